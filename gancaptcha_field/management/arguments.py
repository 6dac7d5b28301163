"""Internal. Argument types the management commands share (argparse ``type=``)."""

from __future__ import annotations

from argparse import ArgumentTypeError
from collections.abc import Callable
from typing import TypeVar

Number = TypeVar("Number", int, float)


def _checked(
    value: str, parse: Callable[[str], Number], ok: Callable[[Number], bool], what: str
) -> Number:
    """``parse(value)`` if it is ``ok``; else argparse's error naming ``what``."""
    try:
        number = parse(value)
    except ValueError:
        number = None
    if number is None or not ok(number):  # ``not ok``: also refuses nan
        raise ArgumentTypeError(f"{value!r} is not {what}")
    return number


def positive_int(value: str) -> int:
    """A whole number of at least 1."""
    return _checked(value, int, lambda n: n >= 1, "a whole number of at least 1")


def positive_float(value: str) -> float:
    """A number greater than 0 (seconds, say)."""
    return _checked(value, float, lambda n: n > 0, "a number greater than 0")


def non_negative_float(value: str) -> float:
    """A number of at least 0 (a margin, say)."""
    return _checked(value, float, lambda n: n >= 0, "a number of at least 0")

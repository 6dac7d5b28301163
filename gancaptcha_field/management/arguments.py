"""Argument types the management commands share (argparse ``type=``)."""

from __future__ import annotations

from argparse import ArgumentTypeError


def positive_int(value: str) -> int:
    """A whole number of at least 1."""
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise ArgumentTypeError(f"{value!r} is not a whole number of at least 1")
    return number


def positive_float(value: str) -> float:
    """A number greater than 0 (seconds, say)."""
    try:
        number = float(value)
    except ValueError:
        number = 0.0
    if not number > 0:  # also refuses nan
        raise ArgumentTypeError(f"{value!r} is not a number greater than 0")
    return number


def non_negative_float(value: str) -> float:
    """A number of at least 0 (a margin, say)."""
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if not number >= 0:  # also refuses nan
        raise ArgumentTypeError(f"{value!r} is not a number of at least 0")
    return number

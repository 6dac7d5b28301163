"""The attacker lab and the reading panel: measuring, never serving.

A Django app of this repository, apart from the served package: the demo, the
benchmarks and ``make attack`` install it (requirements-lab.txt); it is not in
the wheel, and gancaptcha_field never imports it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def errors_only(logger_name: str) -> Iterator[None]:
    """Only errors from ``logger_name`` while a run would log one warning a try."""
    logger = logging.getLogger(logger_name)
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)

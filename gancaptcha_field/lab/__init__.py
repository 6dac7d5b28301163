"""The attacker lab and contact sheets: measuring, never serving."""

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

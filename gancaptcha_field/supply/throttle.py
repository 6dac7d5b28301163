"""Internal. At most one challenge drawn on the spot at a time in a process; others wait
outside.

Drawing for a page view (no pool, or an empty one) can cost a model batch.
Under a flood, queueing every visitor behind it pins the CPU and stacks up
requests; instead a second visitor gets ``DrawingBusy`` at once, and the page
or the JSON view says "try again in a few seconds". The pool's own refills
(a background thread, ``captcha_fill_pool``) do not take this slot.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

# Re-exported: callers catch it here too (its home is supply/errors.py).
from gancaptcha_field.supply.errors import DrawingBusy as DrawingBusy

# What the JSON views send as Retry-After when busy, in seconds.
RETRY_AFTER = 2

_slot = threading.Lock()


@contextmanager
def drawing_slot() -> Iterator[None]:
    """Hold the process's one drawing slot, or raise DrawingBusy without waiting."""
    if not _slot.acquire(blocking=False):
        raise DrawingBusy("another challenge is being drawn in this process")
    try:
        yield
    finally:
        _slot.release()

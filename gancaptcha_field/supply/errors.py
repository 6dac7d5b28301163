"""Internal. What callers catch when no challenge can be made: one place, one family.

Every one is a ``CaptchaUnavailable``, so a form, a view or a command that
fails closed catches that name alone. The old homes (``supply.registry``,
``supply.source``, ``supply.throttle``, ``challenges``) re-export them.
"""

from __future__ import annotations

__all__ = [
    "CaptchaUnavailable",
    "DigitSupplyError",
    "DrawingBusy",
    "ModelsUnavailable",
    "PoolEmpty",
]


class CaptchaUnavailable(Exception):
    """No challenge can be made right now; the form fails closed."""


class ModelsUnavailable(CaptchaUnavailable):
    """The model files are missing, corrupt or incompatible."""


class DigitSupplyError(CaptchaUnavailable):
    """A label's bucket could not be filled within GANCAPTCHA_DRAW["max_batches"]."""


class PoolEmpty(CaptchaUnavailable):
    """The pool is empty and this process may not draw (GANCAPTCHA_SOURCE = "pool")."""


class DrawingBusy(CaptchaUnavailable):
    """This process is already drawing a challenge on the spot; try again shortly."""

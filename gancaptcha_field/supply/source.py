"""Internal. Where a new challenge comes from: the one place that reads the pool
settings.

Three kinds, named by GANCAPTCHA_SOURCE:

- ``pool_only`` ("pool"): the process only takes pre-rendered rows; it never
  loads the models, and an empty pool raises PoolEmpty.
- ``pool_then_draw`` ("pool-then-draw", the default): a pooled row when there
  is one, else a challenge drawn on the spot (logged); the process refills the
  pool in the background (GANCAPTCHA_POOL["autofill"]).
- ``draw_only`` ("draw"): every challenge is drawn on the spot.

create_challenge(), ready(), the checks and the demo ask current_source()
rather than the settings. It is built anew from the settings on each call (a
few attribute reads), so a changed setting counts at once, as every setting.
ready() asks it in every process, migrate too: what issuing needs (the pool,
Pillow) is imported when a challenge is issued, not with this module.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Literal, cast

from django.utils import timezone

from gancaptcha_field.conf import SOURCES, conf

# Re-exported: callers catch it here too (its home is supply/errors.py).
from gancaptcha_field.supply.errors import PoolEmpty as PoolEmpty

if TYPE_CHECKING:
    from gancaptcha_field.stores import Issued, Store

logger = logging.getLogger(__name__)

Kind = Literal["pool_only", "pool_then_draw", "draw_only"]


@dataclass(frozen=True)
class Source:
    """Where this process's new challenges come from."""

    kind: Kind
    # GANCAPTCHA_POOL["autofill"]: a drawing process refills the pool when low.
    autofill: bool = True

    @classmethod
    def from_settings(cls) -> Source:
        """The source GANCAPTCHA_SOURCE names."""
        kind = cast(Kind, SOURCES[conf.SOURCE])
        return cls(kind, autofill=conf.POOL["autofill"])

    @property
    def draws(self) -> bool:
        """True when this process may draw, and so loads the models."""
        return self.kind != "pool_only"

    @property
    def uses_pool(self) -> bool:
        """True when challenges are taken from the pool first: not when
        drawing only, nor when a process that draws has a pool of size 0
        (nothing to take; looking would log "pool is empty" each time)."""
        if self.kind == "pool_then_draw" and conf.POOL["size"] == 0:
            return False
        return self.kind != "draw_only"

    @property
    def refills(self) -> bool:
        """True when this process draws into the pool when it runs low."""
        return self.kind == "pool_then_draw" and self.autofill

    def refill_if_low(self, force_check: bool = False) -> bool:
        """Start a background refill if this process refills and the pool is
        low (pool.refill_if_low); True if one started."""
        from gancaptcha_field.supply import pool

        return self.refills and pool.refill_if_low(force_check)

    def issue(self, store: Store) -> Issued:
        """A fresh challenge for one visitor, kept in ``store``.

        Taken from the pool when this source uses one; an empty pool falls
        back to drawing on the spot (logged), except in pool-only processes,
        which raise PoolEmpty. Raises CaptchaUnavailable.
        """
        from gancaptcha_field.supply import answers, pool, throttle

        if self.uses_pool:
            issued = pool.take(store)
            if issued is not None:
                self.refill_if_low()
                return issued
            if not self.draws:
                logger.error("GanCaptcha pool is empty; pool-only process cannot draw")
                raise PoolEmpty("the challenge pool is empty")
            logger.warning("GanCaptcha pool is empty; drawing a challenge on the spot")
            self.refill_if_low(force_check=True)
        with throttle.drawing_slot():  # one at a time per process; others: DrawingBusy
            return draw(store, answers.new_answer())


def current_source() -> Source:
    """The source the settings name now."""
    return Source.from_settings()


def draw(store: Store, answer: str) -> Issued:
    """A challenge drawn on the spot with ``answer`` (checked first), in ``store``."""
    from gancaptcha_field.stores import Issued
    from gancaptcha_field.supply import answers, pool, render

    pool.pacer.taken()  # this process's refill waits while it serves
    (rendered,) = render.render_answers([answer])  # validates the answer first
    # A draw on the spot may have run a generator batch: keep the worker small.
    pool.release_freed_memory()
    now = timezone.now()
    issued = Issued(
        key=answers.new_key(),
        answer=answer,
        created_at=now,
        expires_at=now + timedelta(seconds=conf.TIMEOUT),
    )
    store.save(issued, rendered)
    return issued

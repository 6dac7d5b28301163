"""Internal. Progress within a long step: a bar with a running rate and an ETA."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

BAR_WIDTH = 24


def format_eta(seconds: float) -> str:
    """``1h02m`` or ``3m05s``."""
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


@dataclass(frozen=True)
class Progress:
    """How far one step has gone: ``done`` of ``total`` in ``seconds``."""

    label: str
    done: int
    total: int
    seconds: float
    unit: str = "img"

    @property
    def finished(self) -> bool:
        """True on the last update of the step."""
        return self.done >= self.total

    @property
    def rate(self) -> float:
        """Units per second so far (0.0 before any time has passed)."""
        return self.done / self.seconds if self.seconds > 0 else 0.0

    @property
    def eta(self) -> float | None:
        """Seconds left at the running rate; None while there is no rate."""
        rate = self.rate
        return (self.total - self.done) / rate if rate > 0 else None

    def render(self) -> str:
        """One line: label, bar, counts, rate and ETA."""
        share = self.done / self.total if self.total else 1.0
        filled = round(share * BAR_WIDTH)
        bar = "#" * filled + "." * (BAR_WIDTH - filled)
        eta = self.eta
        left = "done" if self.finished else (format_eta(eta) if eta else "?")
        return (
            f"{self.label} [{bar}] {self.done}/{self.total} {self.unit} "
            f"{self.rate:.0f} {self.unit}/s ETA {left}"
        )


ProgressFn = Callable[[Progress], None]


class ProgressMeter:
    """Turns per-batch counts into ``Progress`` reports, at most one per
    ``interval`` seconds plus the final one, so a log stays readable."""

    def __init__(
        self,
        report: ProgressFn,
        interval: float,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.report = report
        self.interval = interval
        self.clock = clock
        self._label = ""
        self._started = self._last = 0.0

    def start(self, label: str) -> None:
        """Begin a new step (an epoch): the clock and the rate start afresh."""
        self._label = label
        self._started = self._last = self.clock()

    def update(self, done: int, total: int) -> None:
        """Report ``done`` of ``total`` if the interval has passed or it is done."""
        now = self.clock()
        if done < total and now - self._last < self.interval:
            return
        self._last = now
        self.report(Progress(self._label, done, total, now - self._started))

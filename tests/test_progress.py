"""training.progress: the bar within an epoch, its rate and ETA (fake clock)."""

from __future__ import annotations

from gancaptcha_field.training.progress import Progress, ProgressMeter, format_eta


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_render_shows_bar_counts_rate_and_eta() -> None:
    line = Progress("gan: epoch 2/5", 1000, 4000, 4.0).render()
    assert line == (
        "gan: epoch 2/5 [######..................] 1000/4000 img 250 img/s ETA 0m12s"
    )
    done = Progress("gan: epoch 2/5", 4000, 4000, 8.0)
    assert done.finished and done.render().endswith("500 img/s ETA done")
    assert Progress("x", 0, 10, 0.0).eta is None
    assert Progress("x", 0, 10, 0.0).render().endswith("0 img/s ETA ?")


def test_format_eta() -> None:
    assert format_eta(65) == "1m05s"
    assert format_eta(3 * 3600 + 125) == "3h02m"


def test_meter_reports_at_most_once_per_interval_and_always_the_end() -> None:
    clock, seen = FakeClock(), []
    meter = ProgressMeter(seen.append, interval=10.0, clock=clock)
    meter.start("gan: epoch 1/1")
    for done in range(100, 1001, 100):
        clock.now += 3.0
        meter.update(done, 1000)
    # Updates at 3, 6, ..., 30 s: reported at 12, 24 (interval passed) and 30 (end).
    assert [(p.done, p.seconds) for p in seen] == [
        (400, 12.0),
        (800, 24.0),
        (1000, 30.0),
    ]
    assert seen[-1].finished and seen[0].label == "gan: epoch 1/1"
    # A new epoch starts the rate afresh.
    meter.start("gan: epoch 2/2")
    clock.now += 5.0
    meter.update(1000, 1000)
    assert seen[-1].seconds == 5.0 and seen[-1].rate == 200.0

"""What each way through costs a bot at one address, and the visitor's wait.

Three figures for the way through without reading (GANCAPTCHA_NO_READING):

- **The visitor's wait.** Chromium (Debian's, driven by Playwright) runs the
  shipped gancaptcha-pow.js, Web Workers and all, on puzzles of the default
  difficulty: wall seconds per pass (lab/pow.py).
- **The bot's CPU.** A native solver (OpenSSL's PBKDF2 through hashlib, one
  core) on the same puzzles: CPU-seconds per pass.
- **Passes per address per hour.** A bot at one address drives the site for a
  simulated hour at the default rate limits, through each way in: the image
  (issue, fetch the PNG, answer), the audio (issue, fetch the WAV, answer)
  and no reading (issue, ask for the puzzle, solve it, send the solution). It
  reads every image and hears every clip perfectly (the answer from the
  store): the ceiling any solver meets, which the rate limits alone set; the
  lab's other rows say what real solvers read. It sends each request as soon
  as the site lets it, waits out every 429's Retry-After, and solves its
  puzzles at its measured CPU cost. The requests go through the site's own
  views and answer check (the JSON API and ``challenges.attempt``) with the
  site's cache; the clock is simulated, so the hour takes a minute or two.

The attacker knows everything (the code, the puzzle format, the limits). What
it cannot do is get more than the per-address limits allow; many addresses
multiply every row alike, and the site-wide difficulty (pow.py) then makes
each no-reading pass dearer.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from gancaptcha_field import pow as proof
from gancaptcha_lab import errors_only

PATHS = ("image", "audio", "no_reading")
# The bot's address per way in: TEST-NET-2, never a real client's counters,
# and one each, so that no way in starts on another's counts.
ADDRESSES = {
    "image": "198.51.100.1",
    "audio": "198.51.100.2",
    "no_reading": "198.51.100.3",
}
# Seconds one request takes the bot (its round trip to the site).
PACE = 0.05


@dataclass
class Hour:
    """One way in, one address, one simulated hour."""

    path: str
    minutes: float
    passed: int = 0
    refused: dict[str, int] = field(default_factory=dict)  # 429s by step
    solve_cpu_seconds: float = 0.0  # the bot's PBKDF2, no-reading only

    def as_dict(self) -> dict[str, Any]:
        """JSON form (the no-reading limit is hourly: a shorter run is no
        hour's figure, so nothing is scaled)."""
        solving = self.path == "no_reading" and self.passed
        return {
            "path": self.path,
            "minutes": self.minutes,
            "passed": self.passed,
            "refused": dict(self.refused),
            "solve_cpu_seconds": round(self.solve_cpu_seconds, 2),
            "cpu_seconds_per_pass": (
                round(self.solve_cpu_seconds / self.passed, 2) if solving else None
            ),
        }


class _Clock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@contextmanager
def _simulated_clock() -> Iterator[_Clock]:
    """timezone.now() under the bot's control, from the top of this hour."""
    from django.utils import timezone

    real = timezone.now
    clock = _Clock(real().replace(minute=0, second=0, microsecond=0))
    timezone.now = clock
    try:
        yield clock
    finally:
        timezone.now = real


@contextmanager
def _defaults() -> Iterator[None]:
    """The rate limits on, at their defaults; the test client's host allowed."""
    from django.conf import settings
    from django.test import override_settings

    with override_settings(
        GANCAPTCHA_RATELIMIT_ENABLED=True,
        GANCAPTCHA_RATELIMIT_RATES={},
        GANCAPTCHA_NO_READING=True,
        ALLOWED_HOSTS=[*settings.ALLOWED_HOSTS, "testserver"],
    ):
        yield


def simulate_hour(path: str, minutes: float = 60.0) -> Hour:
    """A perfect bot at one address through ``path`` for ``minutes``."""
    from django.test import Client, RequestFactory
    from django.urls import reverse

    from gancaptcha_field import challenges

    if path not in PATHS:
        raise ValueError(f"no such path: {path!r} (one of {', '.join(PATHS)})")
    client = Client(REMOTE_ADDR=ADDRESSES[path])
    factory = RequestFactory(REMOTE_ADDR=ADDRESSES[path])
    hour = Hour(path, minutes)
    # Django logs every 429 as a warning; the bot's thousands would bury the table.
    with _defaults(), _simulated_clock() as clock, errors_only("django.request"):
        end = clock.now + timedelta(minutes=minutes)

        def call(step: str, send: Callable[..., Any], *args: Any) -> Any:
            """One request; on a 429, wait out its Retry-After and say None."""
            response = send(*args)
            clock.advance(PACE)
            if response.status_code == 429:
                hour.refused[step] = hour.refused.get(step, 0) + 1
                clock.advance(float(response["Retry-After"]))
                return None
            if response.status_code >= 400:
                raise RuntimeError(f"{step}: the site answered {response.status_code}")
            return response

        while clock.now < end:
            issued = call("issue", client.post, reverse("gancaptcha:issue"))
            if issued is None:
                continue
            key = issued.json()["key"]
            solution = None
            if path == "no_reading":
                given = call(
                    "no_reading",
                    client.post,
                    reverse("gancaptcha:no_reading"),
                    {"key": key},
                )
                if given is None:
                    continue
                puzzle = given.json()["no_reading"]
                solution, seconds = _solve(key, puzzle)
                hour.solve_cpu_seconds += seconds
                clock.advance(seconds)
            else:
                view = "gancaptcha:image" if path == "image" else "gancaptcha:audio"
                url = reverse(view, kwargs={"key": key})
                if call(path, client.get, url) is None:
                    continue
            if clock.now >= end:
                break
            answer = challenges.get_answer_for_audio(key) or ""  # a perfect reader
            request = factory.post("/")
            result = challenges.attempt(
                key,
                "" if solution else answer,
                request,
                no_reading=solution,
                allow_no_reading=True,
            )
            clock.advance(PACE)
            hour.passed += result.ok
    return hour


def _solve(key: str, given: dict[str, Any]) -> tuple[str, float]:
    """The bot's native solve of a handed-out puzzle: (solution, CPU-seconds)."""
    puzzle = proof.Puzzle(
        key, given["tries"], given["iterations"], given["salt"], proof.NO_READING
    )
    start = time.process_time()
    nonce = proof.solve(puzzle)
    return proof.format_solution(puzzle, nonce), time.process_time() - start


def measure(
    attempts: int, browser_attempts: int, minutes: float = 60.0
) -> dict[str, Any]:
    """The three figures at the site's settings (difficulty at its minimum)."""
    from gancaptcha_field.conf import conf
    from gancaptcha_lab import pow as lab_pow

    tries = conf.POW["no_reading_min_tries"]
    report: dict[str, Any] = {
        "iterations": conf.POW["iterations"],
        "tries": tries,
        "max_tries": conf.POW["no_reading_max_tries"],
        "native": lab_pow.native_cost(tries, attempts, proof.NO_READING).as_dict(),
    }
    if browser_attempts:
        chromium = lab_pow.chromium_cost(
            tries, browser_attempts, purpose=proof.NO_READING
        )
        report["chromium"] = chromium.as_dict()
    report["hour"] = [simulate_hour(path, minutes).as_dict() for path in PATHS]
    return report


def format_markdown(report: dict[str, Any]) -> str:
    """The figures as Markdown."""
    native, chromium = report["native"], report.get("chromium")
    lines = [
        f"No-reading puzzle at the default difficulty: {report['tries']:,} expected "
        f"PBKDF2-SHA256 tries of {report['iterations']:,} iterations "
        f"(up to {report['max_tries']:,} under site-wide use).",
        "",
        "| who | per pass |",
        "|---|---|",
        f"| native solver (one core), mean CPU-s | {native['mean_s']:.2f} |",
    ]
    if chromium:
        lines += [
            f"| Chromium, median wall s | {chromium['median_s']:.2f} |",
            f"| Chromium, mean wall s | {chromium['mean_s']:.2f} |",
        ]
    lines += [
        "",
        "A perfect bot at one address, one simulated hour at the default rate limits:",
        "",
        "| way in | passed in the hour | refused (429) by step | bot CPU-s per pass |",
        "|---|---|---|---|",
    ]
    for row in report["hour"]:
        refused = ", ".join(f"{k} {v}" for k, v in sorted(row["refused"].items()))
        cpu = row["cpu_seconds_per_pass"]
        lines.append(
            f"| {row['path'].replace('_', ' ')} | {row['passed']:,} | "
            f"{refused or '-'} | {'-' if cpu is None else f'{cpu:.2f}'} |"
        )
    return "\n".join(lines) + "\n"

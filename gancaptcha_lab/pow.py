"""What the proof-of-work costs: a native solver against Chromium running ours.

The attacker here knows everything (the code, the puzzle format) and solves
with OpenSSL's PBKDF2 through hashlib, one core per attempt: its cost is CPU
time per attempt. The visitor is Chromium (Debian's, driven by Playwright)
running the shipped gancaptcha-pow.js, Web Workers and all, against a page on
a local HTTP server: its cost is the wall time a person waits.
"""

from __future__ import annotations

import functools
import http.server
import secrets
import statistics
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gancaptcha_field import pow as proof

STATIC_DIR = Path(proof.__file__).resolve().parent / "static" / "gancaptcha_field"
CHROMIUM = "/usr/bin/chromium"

_PAGE = b"""<!doctype html><meta charset="utf-8"><title>pow</title>
<script src="/gancaptcha-pow.js"></script>"""


@dataclass(frozen=True)
class Cost:
    """Seconds per attempt at one difficulty."""

    tries: int
    attempts: int
    mean: float
    median: float

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "tries": self.tries,
            "attempts": self.attempts,
            "mean_s": round(self.mean, 4),
            "median_s": round(self.median, 4),
        }


def _cost(tries: int, seconds: list[float]) -> Cost:
    return Cost(
        tries, len(seconds), statistics.fmean(seconds), statistics.median(seconds)
    )


def native_cost(tries: int, attempts: int, purpose: str = proof.ANSWER) -> Cost:
    """CPU-seconds a native solver spends per solved puzzle (fresh key each)."""
    seconds = []
    for _ in range(attempts):
        puzzle = proof.puzzle_for(secrets.token_urlsafe(24), tries, purpose)
        start = time.process_time()
        proof.solve(puzzle)
        seconds.append(time.process_time() - start)
    return _cost(tries, seconds)


class _Handler(http.server.SimpleHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path in ("/", "/index.html"):
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.end_headers()
            self.wfile.write(_PAGE)
            return
        super().do_GET()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def _serve_static() -> Iterator[str]:
    handler = functools.partial(_Handler, directory=str(STATIC_DIR))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        # 127.0.0.1 is a secure context: Web Crypto is available there.
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def chromium_cost(
    tries: int,
    attempts: int,
    executable: str = CHROMIUM,
    browser: Any = None,
    purpose: str = proof.ANSWER,
) -> Cost:
    """Wall seconds Chromium takes per solved puzzle with the shipped script.

    ``browser``: a Playwright browser already running (tests); else one is
    launched from ``executable``.
    """
    if browser is not None:
        return _cost(tries, _solve_in(browser, tries, attempts, purpose))
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable)
        try:
            return _cost(tries, _solve_in(launched, tries, attempts, purpose))
        finally:
            launched.close()


def _solve_in(browser: Any, tries: int, attempts: int, purpose: str) -> list[float]:
    seconds = []
    with _serve_static() as url:
        page = browser.new_page()
        try:
            page.goto(url)
            for _ in range(attempts):
                puzzle = proof.puzzle_for(secrets.token_urlsafe(24), tries, purpose)
                elapsed, solution = page.evaluate(
                    """async (p) => {
                        const t0 = performance.now();
                        const s = await window.GanCaptchaPow.solve(p);
                        return [(performance.now() - t0) / 1000, s];
                    }""",
                    {"key": puzzle.key, **puzzle.as_dict()},
                )
                if not proof.check(puzzle.key, solution, purpose):
                    raise AssertionError(f"Chromium's solution was refused: {solution}")
                seconds.append(float(elapsed))
        finally:
            page.close()
    return seconds

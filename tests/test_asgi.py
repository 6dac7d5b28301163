"""The demo under a real ASGI server: ``uvicorn demo_site.asgi:application``.

A subprocess, as a site runs it, with the pool at its default size: the page,
the image, the audio, the widget's script, the JSON API, and the pool that the
first request starts filling in a background thread (as under runserver and
gunicorn). The browser flows under ASGI are in tests/e2e (``both_servers``).
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from gancaptcha_field.models import PooledChallenge
from tests.services import (
    migrated_web_site,
    stop_process,
    unused_port,
    wait_for_server,
    wait_until,
)
from tests.utils import find_tag, find_tags

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def uvicorn_site(tmp_path: Path) -> Iterator[tuple[str, Path, Path]]:
    """The site under uvicorn: its address, its SQLite file and its log."""
    db = tmp_path / "asgi.sqlite3"
    env = migrated_web_site(db)
    port = unused_port()
    log_path = tmp_path / "uvicorn.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "demo_site.asgi:application",
             "--host", "127.0.0.1", "--port", str(port), "--ws", "none",
             "--lifespan", "off", "--no-access-log"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip

    try:
        assert wait_for_server(proc, port), log_path.read_text()
        yield f"http://127.0.0.1:{port}", db, log_path
    finally:
        stop_process(proc, timeout=30)


def get(url: str) -> tuple[int, str, bytes]:
    with urllib.request.urlopen(url, timeout=120) as response:
        return response.status, response.headers["Content-Type"], response.read()


def test_the_demo_serves_under_uvicorn(uvicorn_site: tuple[str, Path, Path]) -> None:
    site, db, log = uvicorn_site
    table = PooledChallenge._meta.db_table

    def pooled() -> int:
        with sqlite3.connect(db, timeout=30) as connection:
            return int(
                connection.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
            )

    assert pooled() == 0  # up, models loaded, nothing drawn before a request

    status, kind, body = get(f"{site}/signup/")
    assert (status, kind) == (200, "text/html; charset=utf-8")
    html = body.decode()
    key = find_tag(html, "input", name="captcha_0")["value"]
    assert key
    status, kind, png = get(f"{site}/gancaptcha/{key}/image.png")
    assert (status, kind) == (200, "image/png")
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    status, kind, wav = get(f"{site}/gancaptcha/{key}/audio.wav?lang=en")
    assert (status, kind) == (200, "audio/wav")
    assert wav[:4] == b"RIFF" and wav[8:12] == b"WAVE"
    # The widget's script and styles: demo_site/asgi.py serves them with DEBUG on.
    scripts = [s["src"] for s in find_tags(html, "script") if s.get("src")]
    assert scripts
    for src in scripts:
        status, kind, _ = get(f"{site}{src}")
        assert status == 200 and "javascript" in kind, src

    request = urllib.request.Request(f"{site}/gancaptcha/issue/", method="POST")
    with urllib.request.urlopen(request, timeout=120) as response:
        assert response.status == 201
        issued = json.loads(response.read())
    assert issued["key"] != key
    assert issued["image_url"] == f"{site}/gancaptcha/{issued['key']}/image.png"

    # The first request started the pool's refill thread, as under WSGI.
    wait_until(lambda: pooled() >= 4, timeout=180)
    assert "Traceback" not in log.read_text()

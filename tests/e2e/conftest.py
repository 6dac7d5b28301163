"""A real browser (Debian's chromium, driven by Playwright) against the site,
served over WSGI (pytest-django's live_server) or, for the flows marked
``both_servers``, over ASGI too (uvicorn, in a thread of this process)."""

from __future__ import annotations

import os
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pytest_django import Settings
from pytest_django.live_server_helper import LiveServer

# Playwright's sync API runs an event loop in this thread, which trips Django's
# guard against ORM calls from async code; the tests read the store directly.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"

Screenshot = Callable[[Any, str], Path]

# The flows a site must get through under either kind of server: signup,
# refresh, audio, the proof of work, the way without reading.
both_servers = pytest.mark.parametrize("server", ["wsgi", "asgi"], indirect=True)


@pytest.fixture(scope="session")
def live_server(django_db_setup: None) -> Iterator[LiveServer]:
    """pytest-django's live server, started once the test database exists.

    Started before it (pytest-django's own fixture may be), the server would
    take the main thread's ":memory:" connection to share among its threads,
    and SQLite crashes when two threads use one connection at once.
    """
    server = LiveServer("localhost")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def asgi_server(django_db_setup: None) -> Iterator[str]:
    """The demo's ASGI application (demo_site/asgi.py) under uvicorn.

    In a thread of this process, like live_server, so that both see the test
    database and the ``settings`` fixture's changes. Django's ASGI handler
    runs the (sync) views in a worker thread; the static files come through
    Django's ASGI handler for them, as live_server's do through its WSGI one.
    """
    # Here, not at the top: demo_site.asgi builds its application on import,
    # which needs Django set up.
    import uvicorn

    from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler
    from django.test.utils import modify_settings

    from demo_site import asgi

    application = asgi.application
    if not isinstance(application, ASGIStaticFilesHandler):  # DEBUG is off here
        application = ASGIStaticFilesHandler(application)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))  # held from here on: no other process takes it
    port = sock.getsockname()[1]
    # No websockets here; ws="auto" would import a library with deprecations.
    config = uvicorn.Config(application, lifespan="off", ws="none", log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="uvicorn", daemon=True
    )
    hosts = modify_settings(ALLOWED_HOSTS={"append": "127.0.0.1"})
    hosts.enable()
    thread.start()
    try:
        while not server.started:
            if not thread.is_alive():
                pytest.fail("uvicorn exited before it served", pytrace=False)
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()
        hosts.disable()


@pytest.fixture
def server(
    request: pytest.FixtureRequest, live_server: LiveServer, asgi_server: str
) -> str:
    """The site's address: live_server (WSGI), unless parametrized to "asgi".

    Both servers are asked for here, not looked up by name: session fixtures
    set up before the test's ``settings`` changes, whose undoing would
    otherwise drop the servers' ALLOWED_HOSTS entries after the first test.
    """
    kind = getattr(request, "param", "wsgi")
    if kind not in ("wsgi", "asgi"):
        raise ValueError(f"server: {kind!r} is neither 'wsgi' nor 'asgi'")
    return asgi_server if kind == "asgi" else str(live_server.url)


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    """One headless chromium for these tests (closed, with its loop, after them)."""
    if not CHROMIUM.is_file():
        message = f"{CHROMIUM} is missing: apt-get install -y chromium"
        if os.environ.get("CI"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        yield chromium
        chromium.close()


@pytest.fixture(autouse=True)
def _e2e_settings(settings: Settings, captcha_models: None) -> None:
    # A browser fetches many images and pages quickly: no rate limits here.
    settings.GANCAPTCHA_RATELIMIT_ENABLED = False
    settings.GANCAPTCHA_TEST_MODE = False
    # Signing up hashes a password; a slow hasher only slows the suite down.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def new_page(browser: Any, server: str) -> Iterator[Callable[..., Any]]:
    """Open a page in a fresh browser context (options: locale, JS, pixel ratio)."""
    contexts = []

    def open_page(**options: Any) -> Any:
        options.setdefault("locale", "en-GB")
        options.setdefault("viewport", {"width": 900, "height": 1100})
        context = browser.new_context(base_url=server, **options)
        context.set_default_timeout(30_000)
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page: Callable[..., Any]) -> Any:
    """A page in English with JavaScript on."""
    return new_page()


@pytest.fixture
def screenshot(request: pytest.FixtureRequest) -> Screenshot:
    """Save a full-page screenshot under tests/e2e/screenshots/ (git-ignored)."""
    SCREENSHOTS.mkdir(exist_ok=True)
    test = re.sub(r"[^\w-]+", "_", request.node.name)

    def take(page: Any, name: str) -> Path:
        path = SCREENSHOTS / f"{test}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take

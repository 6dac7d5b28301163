"""A real browser (Debian's chromium, driven by Playwright) against live_server."""

from __future__ import annotations

import os
import re
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
def new_page(browser: Any, live_server: LiveServer) -> Iterator[Callable[..., Any]]:
    """Open a page in a fresh browser context (options: locale, JS, pixel ratio)."""
    contexts = []

    def open_page(**options: Any) -> Any:
        options.setdefault("locale", "en-GB")
        options.setdefault("viewport", {"width": 900, "height": 1100})
        context = browser.new_context(base_url=live_server.url, **options)
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

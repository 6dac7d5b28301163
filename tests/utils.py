"""Test helpers: reading rendered HTML, the demo's signup form, a movable
clock, a broken registry."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from html.parser import HTMLParser
from typing import Any

from django.test import Client

from gancaptcha_field.supply import registry

# The demo's signup form: a password its validators accept.
PASSWORD = "correct-horse-battery-staple-42"


def signup_data(
    key: str, answer: str, username: str = "ada", token: str | None = None
) -> dict[str, str]:
    """A signup post with the CAPTCHA's key and answer, and the CSRF token if given."""
    data = {
        "username": username,
        "password1": PASSWORD,
        "password2": PASSWORD,
        "captcha_0": key,
        "captcha_1": answer,
    }
    if token is not None:
        data["csrfmiddlewaretoken"] = token
    return data


def load_signup(browser: Client) -> tuple[str, str]:
    """GET the signup page; return the challenge key and the CSRF token."""
    response = browser.get("/signup/")
    assert response.status_code == 200
    html = response.content.decode()
    key = find_tag(html, "input", name="captcha_0")["value"]
    # The signup form's token (the language switcher carries the same one).
    token = find_tags(html, "input", name="csrfmiddlewaretoken")[0]["value"]
    assert key and token
    return key, token


def captcha_codes(response: Any) -> list[str]:
    """The error codes of the form's captcha field in a re-rendered page."""
    errors = response.context["form"].errors.as_data().get("captcha", [])
    return [error.code for error in errors]


class _TagCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def find_tags(html: str, tag: str, **attrs: str) -> list[dict[str, str | None]]:
    """Attributes of every <tag> whose attributes include all of attrs."""
    parser = _TagCollector()
    parser.feed(html)
    return [
        found
        for name, found in parser.tags
        if name == tag and all(found.get(k) == v for k, v in attrs.items())
    ]


def find_tag(html: str, tag: str, **attrs: str) -> dict[str, str | None]:
    """The one <tag> matching attrs; fails if there are none or several."""
    matches = find_tags(html, tag, **attrs)
    assert len(matches) == 1, f"expected one <{tag} {attrs}>, found {len(matches)}"
    return matches[0]


def start_sqlite_worker(database: str, **overrides: Any) -> None:
    """Set Django up in a worker process: tests.settings on a migrated SQLite file."""
    import django
    from django.conf import settings
    from django.core.management import call_command
    from django.test.utils import setup_test_environment

    import tests.settings as base

    values = {name: getattr(base, name) for name in dir(base) if name.isupper()}
    values["DATABASES"] = {
        "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": database}
    }
    settings.configure(**{**values, **overrides})
    django.setup()
    setup_test_environment()  # responses carry their template context
    call_command("migrate", verbosity=0)


def signup_walk(
    client: Client, answer_of: Callable[[Any, Any], str | None]
) -> dict[str, Any]:
    """The worker scripts' steps: the page and its image, a wrong answer (which
    uses the key up), then the right one; ``answer_of(page, image)`` knows it."""

    def show_form() -> tuple[Any, str, str, Any]:
        page = client.get("/signup/")
        html = page.content.decode()
        key = find_tag(html, "input", name="captcha_0")["value"]
        token = find_tags(html, "input", name="csrfmiddlewaretoken")[0]["value"]
        src = find_tag(html, "img", **{"class": "gancaptcha-image"})["src"]
        assert key and token and src
        return page, key, token, client.get(src)

    def post(key: str, token: str, answer: str | None) -> Any:
        assert answer is not None, "no answer known for the image"
        return client.post("/signup/", signup_data(key, answer, token=token))

    steps: dict[str, Any] = {}
    page, key, token, image = show_form()
    answer = answer_of(page, image)
    steps["page"] = page.status_code
    steps["image"] = [image.status_code, image["Content-Type"]]
    steps["png"] = image.content.startswith(b"\x89PNG\r\n\x1a\n")
    wrong = "0000" if answer != "0000" else "1111"
    response = post(key, token, wrong)
    steps["wrong"] = [
        response.status_code,
        "captcha" in response.context["form"].errors,
    ]
    steps["reused_key_image"] = client.get(image.wsgi_request.path).status_code
    page, key, token, image = show_form()
    response = post(key, token, answer_of(page, image))
    steps["right"] = [response.status_code, response.get("Location")]
    return steps


class Clock:
    """A settable stand-in for django.utils.timezone.now()."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move time forward without sleeping."""
        self.now += timedelta(seconds=seconds)


class BrokenRegistry:
    """A registry whose models failed to load."""

    def status(self) -> registry.Status:
        return registry.Status(ok=False, code="missing", message="No models.")

    def draw(self, labels: object) -> object:
        raise registry.ModelsUnavailable("No models.")

    def draw_with_details(self, labels: object) -> object:
        raise registry.ModelsUnavailable("No models.")

"""Test helpers: reading rendered HTML, a movable clock, a broken registry,
stopping a server process."""

from __future__ import annotations

import subprocess
from datetime import datetime, timedelta
from html.parser import HTMLParser

from gancaptcha_field.supply import registry


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


def stop_process(proc: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """Ask a server process to stop; kill it if it has not after ``timeout``."""
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()

"""What a page view costs the server: CPU time and bytes stored, ours against the peer.

    python -m benchmarks.issuing_cost [--views N] [--quick]

A page view is what a browser does: GET the signup page (which issues a
challenge), then GET its image. Three contenders run in one process, on one
SQLite database, in interleaved rounds (so a change in the machine's load falls
on all alike), through Django's test client:

  peer          django-simple-captcha 0.7.0 (a row per challenge; the image is
                drawn when it is fetched)
  ours          no pool (GANCAPTCHA_SOURCE = "draw", the default before
                2026-11-29): every challenge drawn on the spot
  ours_pool     GANCAPTCHA_SOURCE = "pool", filled beforehand, one row per
                page view (GANCAPTCHA_POOL["reserve"] = 1); the producer's
                CPU per challenge is printed apart

CPU is ``time.process_time()`` (every thread of the process, TensorFlow's
included) per page view. Bytes stored are the payload of the rows a page view
leaves in the database (key, answer, images, timestamps; no index or page
overhead). Figures are printed as ratios to the peer. Rate limits are off
(benchmarks/settings.py): one client asks for every page.

The widget's HTML is measured apart: the CAPTCHA field rendered through the
form renderer with issuing stubbed out (a fixed challenge), against the same
form's password field (Django's PasswordInput, the same renderer), in
interleaved rounds. It is what a faster way to make the HTML could save; the
widget has one way (the template), and a second would have to earn its place
here.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from benchmarks import bootstrap

_SRC = re.compile(r'<img[^>]*class="gancaptcha-image"[^>]*src="([^"]+)"')
_SRC_PEER = re.compile(r'<img[^>]*src="(/captcha/image/[^"]+)"')


@dataclass
class Contender:
    """One side: how to view a page, how to count its rows, its settings."""

    name: str
    page: str
    image_re: re.Pattern[str]
    stored_bytes: Callable[[], tuple[int, int]]  # (rows, payload bytes)
    settings: dict[str, Any] = field(default_factory=dict)
    cpu: list[float] = field(default_factory=list)


def _ours_stored() -> tuple[int, int]:
    from django.db.models import Sum
    from django.db.models.functions import Length

    from gancaptcha_field.models import Challenge

    rows = Challenge.objects.aggregate(
        b=Sum(Length("key") + Length("answer") + Length("png") + Length("png_2x")),
    )
    count = Challenge.objects.count()
    # Two timestamps of 8 bytes each.
    return count, int(rows["b"] or 0) + 16 * count


def _peer_stored() -> tuple[int, int]:
    from captcha.models import CaptchaStore

    rows = list(CaptchaStore.objects.values_list("hashkey", "challenge", "response"))
    # One timestamp of 8 bytes each.
    return len(rows), sum(len(a) + len(b) + len(c) + 8 for a, b, c in rows)


def _view(client: Any, contender: Contender) -> None:
    page = client.get(contender.page)
    assert page.status_code == 200, page.status_code
    match = contender.image_re.search(page.content.decode())
    assert match is not None, f"{contender.name}: no CAPTCHA image on the page"
    image = client.get(match.group(1).replace("&amp;", "&"))
    assert image.status_code == 200, image.status_code


def _clear() -> None:
    from captcha.models import CaptchaStore

    from gancaptcha_field.models import Challenge

    Challenge.objects.all().delete()
    CaptchaStore.objects.all().delete()


def run(views: int, rounds: int = 10, warmup: int = 5) -> dict[str, Any]:
    """Measure each contender over ``views`` page views; Django must be set up."""
    from django.test import Client, override_settings

    from gancaptcha_field.conf import conf
    from gancaptcha_field.supply import pool, registry

    status = registry.get_registry().status()
    if not status.ok:
        raise RuntimeError(f"models not usable: {status.message}")
    registry.get_registry().draw([0])  # the graphs traced before any timing
    pool.clear()
    need = views + warmup + conf.POOL["reserve"] + 10
    start = time.process_time()
    made = pool.fill(target=need, batch=256)
    fill_cpu = (time.process_time() - start) / max(1, made)
    contenders = [
        Contender("peer", "/peer/signup/", _SRC_PEER, _peer_stored),
        Contender(
            "ours", "/ours/signup/", _SRC, _ours_stored, {"GANCAPTCHA_SOURCE": "draw"}
        ),
        Contender(
            "ours_pool",
            "/ours/signup/",
            _SRC,
            _ours_stored,
            # One row per page view: rows taken ahead would be cleared
            # between rounds (and cost the same bytes each).
            {
                "GANCAPTCHA_POOL": {"size": need, "reserve": 1},
                "GANCAPTCHA_SOURCE": "pool",
            },
        ),
    ]
    client = Client()
    stored: dict[str, tuple[int, int]] = {}
    for contender in contenders:
        with override_settings(**contender.settings):
            for _ in range(warmup):
                _view(client, contender)
    for number in range(rounds):
        turn = number % len(contenders)
        for contender in contenders[turn:] + contenders[:turn]:
            share = views // rounds + (1 if number < views % rounds else 0)
            with override_settings(**contender.settings):
                _clear()
                for _ in range(share):
                    start = time.process_time()
                    _view(client, contender)
                    contender.cpu.append(time.process_time() - start)
                rows, payload = contender.stored_bytes()
                assert rows == share, (contender.name, rows, share)
                total_rows, total_bytes = stored.get(contender.name, (0, 0))
                stored[contender.name] = (total_rows + rows, total_bytes + payload)
    _clear()
    pool.clear()
    out: dict[str, Any] = {
        "views": views,
        "pool_fill_cpu_ms": 1000 * fill_cpu,
        "widget": widget_cost(10 * views),
    }
    for contender in contenders:
        rows, payload = stored[contender.name]
        out[contender.name] = {
            "cpu_ms": 1000 * sum(contender.cpu) / len(contender.cpu),
            "bytes": payload / rows,
        }
    return out


def widget_cost(renders: int, rounds: int = 10) -> dict[str, float]:
    """CPU microseconds per render: the CAPTCHA field's HTML (no issuing) and
    a plain field of the same form, interleaved; Django must be set up."""
    from datetime import timedelta
    from unittest import mock

    from django.utils import timezone

    from benchmarks.peer_site.forms import OursForm
    from gancaptcha_field import challenges
    from gancaptcha_field.stores import Issued

    now = timezone.now()
    fixed = Issued("k" * 43, "1234", now, now + timedelta(minutes=5))
    form = OursForm()
    sides: dict[str, Callable[[], str]] = {
        "captcha": lambda: str(form["captcha"]),
        "plain": lambda: str(form["password1"]),
    }
    cpu = dict.fromkeys(sides, 0.0)
    share = max(1, renders // rounds)
    with mock.patch.object(challenges, "create_challenge", return_value=fixed):
        for render in sides.values():
            for _ in range(20):
                render()
        for number in range(rounds):
            order = list(sides.items())
            for name, render in order if number % 2 else order[::-1]:
                start = time.process_time()
                for _ in range(share):
                    render()
                cpu[name] += time.process_time() - start
    return {name: 1e6 * total / (share * rounds) for name, total in cpu.items()}


def report(result: dict[str, Any]) -> str:
    """A Markdown table of the figures, as ratios to the peer."""
    peer = result["peer"]
    lines = [
        f"Issuing cost per page view (page + its image), {result['views']} views "
        "each, interleaved",
        "",
        "| | CPU ms | x peer | bytes stored | x peer |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    names = {
        "peer": "django-simple-captcha 0.7.0",
        "ours": "ours, no pool (drawn on the spot)",
        "ours_pool": "ours, from a pool",
    }
    for name, label in names.items():
        row = result[name]
        lines.append(
            f"| {label} | {row['cpu_ms']:.2f} | {row['cpu_ms'] / peer['cpu_ms']:.2f} "
            f"| {row['bytes']:,.0f} | {row['bytes'] / peer['bytes']:.1f} |"
        )
    fill = result["pool_fill_cpu_ms"]
    lines += [
        "",
        f"The pool's producer spent {fill:.2f} ms of CPU per challenge drawn "
        f"({fill / peer['cpu_ms']:.2f} x the peer's page view), on top of "
        "the pooled page view's own cost.",
    ]
    widget = result.get("widget")
    if widget:
        ours, plain = widget["captcha"], widget["plain"]
        lines += [
            "",
            f"The widget's HTML alone (issuing stubbed out) took {ours:.0f}"
            f" us of CPU per render, {ours / plain:.1f} x a"
            f" password field's ({plain:.0f} us) through the same renderer;"
            f" {ours / 1000 / peer['cpu_ms']:.2f} x the peer's page view.",
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--views", type=int, default=200, help="Page views per contender (200)."
    )
    parser.add_argument(
        "--quick", action="store_true", help="20 views each: checks that it runs."
    )
    args = parser.parse_args(argv)
    views = 20 if args.quick else args.views
    if views < 10:
        parser.error("--views must be at least 10")
    with bootstrap.django_here(side="both", name="issuing"):
        print(report(run(views)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

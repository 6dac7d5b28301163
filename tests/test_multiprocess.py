"""Two server processes, one PostgreSQL, one Redis: a challenge is one thing.

Each server is a real `manage.py runserver` process in pool-only mode. A page
from one server hands out a challenge; the other serves its image and accepts
the answer; a replay through the first is refused. Once per store.
Skipped when PostgreSQL or Redis does not answer (a failure under CI=true).
"""

from __future__ import annotations

import http.cookiejar
import os
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from pytest_django import DjangoDbBlocker

from django.contrib.auth.models import User

from gancaptcha_field.models import Challenge
from gancaptcha_field.supply import answers, pool, render
from tests import services
from tests.services import stop_process
from tests.utils import find_tag, find_tags, signup_data

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT = 60.0


@pytest.fixture(scope="module")
def postgres(django_db_blocker: DjangoDbBlocker) -> Iterator[tuple[str, str]]:
    """(schema, Django alias) of a migrated schema of its own."""
    services.connect_postgres().close()
    with (
        services.postgres_schema() as schema,
        django_db_blocker.unblock(),
        services.postgres_alias(schema) as alias,
    ):
        yield schema, alias


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None  # a redirect is an answer the test reads, not follows


class Browser:
    """Cookies and CSRF, as a browser keeps them across both servers."""

    def __init__(self) -> None:
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()),
            _NoRedirect,
        )

    def request(self, url: str, data: dict[str, str] | None = None) -> Response:
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        try:
            with self.opener.open(url, body, timeout=30) as reply:
                return Response(reply.status, dict(reply.headers), reply.read())
        except urllib.error.HTTPError as exc:
            return Response(exc.code, dict(exc.headers), exc.read())


@contextmanager
def server(env: dict[str, str]) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`manage.py runserver --noreload` on a free port, stopped afterwards."""
    port = services.unused_port()
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if proc.poll() is not None:
                out = proc.stdout.read().decode() if proc.stdout else ""
                pytest.fail(f"server exited with {proc.returncode}:\n{out}")
            try:
                # The home page takes no challenge from the pool.
                if Browser().request(base + "/").status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"server on port {port} did not start")
            time.sleep(0.2)
        yield base, proc
    finally:
        stop_process(proc)
        if proc.stdout:
            proc.stdout.close()


def loads_tensorflow(proc: subprocess.Popen[bytes]) -> bool:
    """Whether the process has TensorFlow's shared library mapped."""
    maps = Path(f"/proc/{proc.pid}/maps").read_text()
    return "libtensorflow" in maps or "site-packages/tensorflow/" in maps


def load_signup(browser: Browser, base: str) -> tuple[str, str, str]:
    """(challenge key, image URL, CSRF token) from a server's signup page."""
    page = browser.request(base + "/signup/")
    assert page.status == 200, page.text
    key = find_tag(page.text, "input", name="captcha_0")["value"]
    # The page may hold other forms (a language switcher): same token in each.
    token = find_tags(page.text, "input", name="csrfmiddlewaretoken")[0]["value"]
    image = find_tag(page.text, "img", **{"class": "gancaptcha-image"})["src"]
    assert key and token and image, "the page offered no challenge"
    return key, image, token


def signup(
    browser: Browser, base: str, username: str, key: str, answer: str
) -> Response:
    """POST the signup form with a fresh CSRF token from the same server."""
    _, _, token = load_signup(browser, base)
    return browser.request(
        base + "/signup/",
        signup_data(key, answer, username, token=token),
    )


@pytest.mark.usefixtures("captcha_models")
@pytest.mark.parametrize("store", ["database", "cache"])
def test_two_servers_share_one_challenge(
    store: str,
    postgres: tuple[str, str],
    django_db_blocker: DjangoDbBlocker,
) -> None:
    schema, alias = postgres
    with ExitStack() as stack:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.multiprocess_settings",
            "GC_MP_SCHEMA": schema,
            "GC_MP_STORE": store,
        }
        prefix = ""
        if store == "cache":
            prefix = stack.enter_context(services.redis_prefix())
            env["GC_MP_REDIS_PREFIX"] = prefix
        # The pool is drawn here, with the real models; the servers never
        # load them (pool-only).
        items = render.render_answers([answers.new_answer() for _ in range(3)])
        answer_of = {item.png: item.answer for item in items}
        with django_db_blocker.unblock():
            pool.clear(using=alias)
            pool.put(items, using=alias)
        a, proc_a = stack.enter_context(server(env))
        b, proc_b = stack.enter_context(server(env))

        browser = Browser()
        key, image_url, _ = load_signup(browser, a)
        # The live challenge sits in the store the setting names, only there.
        with django_db_blocker.unblock():
            in_table = Challenge.objects.using(alias).filter(key=key).exists()
        if store == "cache":
            redis = services.connect_redis()
            assert list(redis.scan_iter(match=f"{prefix}:*{key}*"))
            redis.close()
        assert in_table is (store == "database")
        image = browser.request(b + image_url)
        assert image.status == 200
        assert image.headers["Content-Type"] == "image/png"
        assert image.body in answer_of, "B served an image that was never pooled"
        answer = answer_of[image.body]

        accepted = signup(browser, b, "ada", key, answer)
        assert accepted.status == 302, accepted.text
        assert accepted.headers["Location"].endswith("/welcome/")

        replay = signup(Browser(), a, "mallory", key, answer)
        assert replay.status == 200  # the form again, with an error
        assert browser.request(a + image_url).status == 410
        with django_db_blocker.unblock():
            users = set(User.objects.using(alias).values_list("username", flat=True))
            left = pool.size(using=alias)
            User.objects.using(alias).all().delete()
        assert users == {"ada"}
        # A's page, B's page and A's again (for the replay) took one each.
        assert left == 0

        # Pool-only web workers never load TensorFlow.
        if Path("/proc/self/maps").exists():
            assert not loads_tensorflow(proc_a)
            assert not loads_tensorflow(proc_b)

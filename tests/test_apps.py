"""ready() loads the models only in processes that serve."""

from __future__ import annotations

import pytest

from gancaptcha_field.apps import is_serving_process, is_web_server


@pytest.mark.parametrize(
    "argv",
    [
        ["manage.py", "migrate"],
        ["manage.py", "check"],
        ["manage.py", "train_captcha_models"],
        ["manage.py", "captcha_cleanup"],
        ["/usr/bin/django-admin", "makemigrations"],
        ["/venv/lib/python3.11/site-packages/django/__main__.py", "migrate"],
        ["manage.py"],
        ["manage.py", "runserver"],  # the autoreloader's watcher
    ],
)
def test_commands_that_do_not_serve(argv: list[str], monkeypatch) -> None:
    monkeypatch.delenv("RUN_MAIN", raising=False)
    assert not is_serving_process(argv)


@pytest.mark.parametrize(
    "argv",
    [
        ["manage.py", "runserver", "--noreload"],
        ["manage.py", "captcha_sample", "--output", "x.npz"],
    ],
)
def test_commands_that_serve(argv: list[str]) -> None:
    assert is_serving_process(argv)


def test_runserver_child_serves(monkeypatch) -> None:
    monkeypatch.setenv("RUN_MAIN", "true")
    assert is_serving_process(["manage.py", "runserver"])


@pytest.mark.parametrize(
    "argv",
    [
        ["/venv/bin/gunicorn", "demo_site.wsgi"],
        # python -m gunicorn / uvicorn: their own __main__.py, not Django's.
        ["/venv/lib/python3.11/site-packages/gunicorn/__main__.py", "demo_site.wsgi"],
        [
            "/venv/lib/python3.11/site-packages/uvicorn/__main__.py",
            "demo_site.asgi:app",
        ],
    ],
)
def test_wsgi_servers_serve_and_are_web_servers(argv: list[str]) -> None:
    assert is_serving_process(argv)
    assert is_web_server(argv)


@pytest.mark.parametrize(
    ("argv", "web"),
    [
        (["manage.py", "runserver", "--noreload"], True),
        (["manage.py", "captcha_fill_pool", "--watch"], False),
        (["manage.py", "captcha_sample", "--output", "x.npz"], False),
        (["manage.py", "captcha_attack"], False),
        (["manage.py", "migrate"], False),
    ],
)
def test_only_web_servers_fill_the_pool_ahead(argv: list[str], web: bool) -> None:
    # Commands that draw load the models but never start the web refill.
    assert is_web_server(argv) is web


def test_test_runner_does_not_preload() -> None:
    # Under pytest the loader waits for first use instead.
    assert not is_serving_process(["/venv/bin/pytest"], under_test=True)

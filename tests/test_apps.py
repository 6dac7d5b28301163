"""ready() loads the models only in processes that serve."""

from __future__ import annotations

import pytest

from gancaptcha_field.apps import is_serving_process


@pytest.mark.parametrize(
    "argv",
    [
        ["manage.py", "migrate"],
        ["manage.py", "check"],
        ["manage.py", "train_captcha_models"],
        ["manage.py", "captcha_cleanup"],
        ["/usr/bin/django-admin", "makemigrations"],
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


def test_wsgi_servers_serve() -> None:
    assert is_serving_process(["/venv/bin/gunicorn", "demo_site.wsgi"])


def test_test_runner_does_not_preload() -> None:
    # Under pytest the loader waits for first use instead.
    assert not is_serving_process(["/venv/bin/pytest"], under_test=True)

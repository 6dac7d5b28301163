"""Single use that survives rollbacks: ATOMIC_REQUESTS, over HTTP, real databases.

A request that fails rolls its transaction back. The use of a challenge (and
the client's failure count) must not roll back with it: otherwise guessing
through a DRF view (which rolls back on every 400) or replaying through a view
that crashes after is_valid() gets the same challenge again and again.
Each test runs on SQLite and on PostgreSQL, with the database store and with
the cache store on Django's DatabaseCache (whose writes are database writes).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from pytest_django import DjangoDbBlocker, Settings
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from django import forms
from django.contrib.auth.models import User
from django.core.management import call_command
from django.db import connections, transaction
from django.db.models import Model
from django.http import HttpRequest, HttpResponse
from django.test import Client
from django.urls import include, path

from gancaptcha_field import challenges, stores
from gancaptcha_field.drf import GanCaptchaSerializerField
from gancaptcha_field.fields import GanCaptchaField
from gancaptcha_field.models import Challenge
from gancaptcha_field.testing import answer_for
from tests.drf_views import OpenJSONView
from tests.utils import Clock

pytestmark = [pytest.mark.urls("tests.test_rollback")]

WRONG = "Wrong answer. Please try the new image."
RATE_LIMITED = "Too many attempts. Please wait a minute and try again."
UNAVAILABLE = "CAPTCHA temporarily unavailable. Please try again later."

# What the views below did after a pass: a side effect a replay would repeat.
PASSES: list[str] = []


class CaptchaForm(forms.Form):
    captcha = GanCaptchaField()


def form_then_crash(request: HttpRequest) -> HttpResponse:
    """Validates, acts, then fails: ATOMIC_REQUESTS rolls the request back."""
    form = CaptchaForm(request.POST)
    if not form.is_valid():
        return HttpResponse(form.errors.as_json(), status=400)
    PASSES.append(form.cleaned_data["captcha"])
    raise RuntimeError("the view fails after validation")


class ReadsFirstForm(forms.Form):
    """A field that reads the database (as UserCreationForm's username does)."""

    username = forms.CharField()
    captcha = GanCaptchaField()

    def clean_username(self) -> str:
        User.objects.filter(username=self.cleaned_data["username"]).exists()
        return str(self.cleaned_data["username"])


class CaptchaFirstForm(ReadsFirstForm):
    field_order = ["captcha", "username"]


def signup(request: HttpRequest, first: str) -> HttpResponse:
    """Checks the CAPTCHA after (or before) reading, then writes a user."""
    form_class = CaptchaFirstForm if first == "captcha" else ReadsFirstForm
    form = form_class(request.POST)
    if not form.is_valid():
        return HttpResponse(form.errors.as_json(), status=400)
    User.objects.create(username=form.cleaned_data["username"])
    return HttpResponse(status=201)


class CaptchaSerializer(serializers.Serializer):  # type: ignore[type-arg]
    captcha = GanCaptchaSerializerField()


class SignupView(OpenJSONView):
    def post(self, request: Request) -> Response:
        serializer = CaptchaSerializer(data=request.data, context={"request": request})
        # A 400 here makes DRF mark the request's transaction for rollback.
        serializer.is_valid(raise_exception=True)
        PASSES.append(serializer.validated_data["captcha"])
        return Response({"ok": True}, status=201)


urlpatterns = [
    path("gancaptcha/", include("gancaptcha_field.urls")),
    path("crash/", form_then_crash),
    path("signup/<str:first>/", signup),
    path("api/signup/", SignupView.as_view()),
]


class ToAlias:
    """Routes the app's tables and the database cache to one alias."""

    alias = "default"

    def _pick(self, model: type[Model]) -> str | None:
        label = model._meta.app_label
        return self.alias if label in ("gancaptcha_field", "django_cache") else None

    def db_for_read(self, model: type[Model], **hints: Any) -> str | None:
        return self._pick(model)

    def db_for_write(self, model: type[Model], **hints: Any) -> str | None:
        return self._pick(model)


DATABASE_CACHE = {
    "BACKEND": "django.core.cache.backends.db.DatabaseCache",
    "LOCATION": "gancaptcha_test_store",
}
LIMITER_CACHE = {**DATABASE_CACHE, "LOCATION": "gancaptcha_test_limits"}


@pytest.fixture(
    params=[
        pytest.param(
            ("sqlite", "database"), marks=pytest.mark.django_db(transaction=True)
        ),
        pytest.param(
            ("sqlite", "cache"), marks=pytest.mark.django_db(transaction=True)
        ),
        ("postgres", "database"),
        ("postgres", "cache"),
    ],
    ids=lambda p: "-".join(p),
)
def atomic_site(
    request: pytest.FixtureRequest,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    django_db_blocker: DjangoDbBlocker,
) -> Iterator[str]:
    """ATOMIC_REQUESTS on the database that holds the challenges; its alias."""
    request.getfixturevalue("captcha_models")
    backend, store = request.param
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "store": DATABASE_CACHE,
        "limits": LIMITER_CACHE,
    }
    if store == "cache":
        settings.GANCAPTCHA_STORE = "cache"
        settings.GANCAPTCHA_CACHE_ALIAS = "store"
    PASSES.clear()
    if backend == "sqlite":
        alias = "default"
        blocker: Any = None
    else:
        alias = request.getfixturevalue("postgres_alias")
        monkeypatch.setattr(ToAlias, "alias", alias)
        settings.DATABASE_ROUTERS = [ToAlias()]
        blocker = django_db_blocker.unblock()
        blocker.__enter__()
    monkeypatch.setitem(connections[alias].settings_dict, "ATOMIC_REQUESTS", True)
    call_command("createcachetable", database=alias, verbosity=0)
    try:
        yield alias
    finally:
        # Neither a flush (SQLite) nor the module's schema (PostgreSQL) empties
        # the cache tables, which are no model's.
        for table in ("gancaptcha_test_store", "gancaptcha_test_limits"):
            with connections[alias].cursor() as cursor:
                cursor.execute(f"DELETE FROM {table}")
        if blocker is not None:
            Challenge.objects.using(alias).all().delete()
            blocker.__exit__(None, None, None)


def issue(client: Client) -> tuple[str, str]:
    """A challenge issued over HTTP, and its answer."""
    response = client.post("/gancaptcha/issue/")
    assert response.status_code == 201
    key = response.json()["key"]
    return key, answer_for(key)


def wrong(answer: str) -> str:
    return f"{(int(answer) + 1) % 10_000:04d}"


def post_json(client: Client, key: str, answer: str) -> Any:
    return client.post(
        "/api/signup/",
        {"captcha": {"key": key, "answer": answer}},
        content_type="application/json",
    )


def test_drf_wrong_then_right_is_refused(atomic_site: str, client: Client) -> None:
    key, answer = issue(client)
    first = post_json(client, key, wrong(answer))
    assert first.status_code == 400  # and DRF rolled the request back
    second = post_json(client, key, answer)
    assert second.status_code == 400
    assert second.json() == {"captcha": [WRONG]}
    assert PASSES == []
    with pytest.raises(LookupError):
        answer_for(key)


def test_a_view_that_crashes_after_validation_cannot_replay(
    atomic_site: str,
) -> None:
    client = Client(raise_request_exception=False)
    key, answer = issue(client)
    data = {"captcha_0": key, "captcha_1": answer}
    assert client.post("/crash/", data).status_code == 500  # rolled back
    assert PASSES == [key]
    replay = client.post("/crash/", data)
    assert replay.status_code == 400
    assert WRONG in replay.content.decode()
    assert PASSES == [key]  # the side effect happened once


def test_failure_counts_survive_the_rollback(
    atomic_site: str, settings: Settings, client: Client, clock: Clock
) -> None:
    # The limiter counts in a DatabaseCache on the same database: its writes
    # would roll back with each refused request, were they not committed apart.
    settings.GANCAPTCHA_RATELIMIT_ENABLED = True
    settings.GANCAPTCHA_RATELIMIT_CACHE = "limits"
    settings.GANCAPTCHA_RATELIMIT_RATES = {"fail": "2/h"}
    for _ in range(2):
        key, answer = issue(client)
        assert post_json(client, key, wrong(answer)).json() == {"captcha": [WRONG]}
    key, answer = issue(client)
    limited = post_json(client, key, answer)
    assert limited.json() == {"captcha": [RATE_LIMITED]}
    with pytest.raises(LookupError):
        answer_for(key)  # refused unread, and used up all the same
    assert PASSES == []


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("captcha_models")
def test_sqlite_lock_held_by_the_request_refuses_rather_than_hangs(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # SQLite locks the whole file: once the request's transaction has written,
    # no other connection can commit the use. The answer is refused, logged.
    monkeypatch.setattr(stores, "SIDE_LOCK_TIMEOUT", 0.2)
    issued = challenges._create_with_answer("2718")
    other = challenges._create_with_answer("3141")
    caplog.set_level(logging.ERROR, logger="gancaptcha_field.stores")
    with transaction.atomic():
        Challenge.objects.filter(key=other.key).delete()  # the request writes
        result = challenges.attempt(issued.key, "2718")
    assert result.code is challenges.Code.UNAVAILABLE
    assert "could not commit the use of a challenge" in caplog.text


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("captcha_models")
@pytest.mark.parametrize("first", ["username", "captcha"])
def test_sqlite_atomic_requests_need_the_captcha_checked_before_reading(
    first: str,
    client: Client,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # SQLite (rollback journal): a read in the request's transaction holds a
    # shared lock on the file until the request ends, so the use cannot be
    # committed apart: refused, logged, never passed. Checked first, it works.
    monkeypatch.setattr(stores, "SIDE_LOCK_TIMEOUT", 0.2)
    monkeypatch.setitem(connections["default"].settings_dict, "ATOMIC_REQUESTS", True)
    key, answer = issue(client)
    data = {"username": "ada", "captcha_0": key, "captcha_1": answer}
    response = client.post(f"/signup/{first}/", data)
    if first == "captcha":
        assert response.status_code == 201
        assert User.objects.filter(username="ada").exists()
    else:
        assert response.status_code == 400
        assert UNAVAILABLE in response.content.decode()
        assert "could not commit the use of a challenge" in caplog.text
        assert not User.objects.exists()
    with pytest.raises(LookupError):
        answer_for(key)

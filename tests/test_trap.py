"""The trap (GANCAPTCHA_TRAP): stock readings' misreadings, sealed as baits; an
answer that repeats one is refused, counted against the client and signalled."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import numpy as np
import pytest
from PIL import Image
from pytest_django import DjangoDbBlocker, Settings

from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from gancaptcha_field import challenges, sealing, signals, sql
from gancaptcha_field.stores import (
    Consumed,
    DatabaseStore,
    Issued,
    Rendered,
    get_store,
)
from gancaptcha_field.supply import harden, pool, registry, render, trap
from gancaptcha_field.supply.render import compose_png
from tests import services
from tests.conftest import _mnist_test_digits
from tests.utils import Clock, captcha_codes, signup_data


@pytest.mark.parametrize(
    ("answer", "truth", "baits", "sprung"),
    [
        ("1784", "1234", ("1784",), True),  # the bait itself
        ("1789", "1234", ("1784",), True),  # its two misreadings, a slip elsewhere
        ("7784", "1234", ("1784",), True),
        ("9780", "1234", ("1784",), True),
        ("1284", "1234", ("1284",), False),  # one misread digit: people do that
        ("1704", "1234", ("1784",), False),  # one of its two misreadings
        ("1239", "1234", ("1784",), False),  # wrong where the bait was right
        ("1789", "1234", ("1284", "9731"), False),  # one digit of each bait
        ("5739", "1234", ("1784", "5239"), True),  # ... two of the second bait
        ("1234", "1234", ("1784",), False),  # right: never a signal
        ("1794", "1234", ("1784",), False),  # misread that digit otherwise
        ("5678", "1234", ("1784",), False),
        ("1784", "1234", (), False),  # no bait: no trap
        ("17845", "1234", ("1784",), False),
        ("178", "1234", ("1784",), False),
        ("1784", "1234", ("1784", "0000"), True),
    ],
)
def test_an_answer_springs_the_trap_by_repeating_two_misread_digits(
    answer: str, truth: str, baits: tuple[str, ...], sprung: bool
) -> None:
    assert challenges.springs(answer, truth, baits) is sprung


def test_baits_are_sealed_with_their_answer_and_open_apart() -> None:
    stored = sealing.seal("1234", ("1284", "1294"))
    assert stored.startswith("s3$")
    assert len(stored.split("$")[2]) == 12  # the three, sealed as one number
    assert sealing.open_sealed(stored) == ("1234", ("1284", "1294"))
    assert sealing.unseal(stored) == "1234"  # the audio speaks the answer only
    assert sealing.open_sealed(sealing.seal("1234")) == ("1234", ())
    assert sealing.seal("1234", ()).startswith("s1$")
    for bad in (("128",), ("12845",), ("12a4",), "1284", ("1111",) * 4):
        with pytest.raises(ValueError):
            sealing.seal("1234", bad)
    # The prefix is under the tag: a bait cannot be added or dropped unseen.
    _, rest = stored.split("$", 1)
    for prefix in ("s1", "s2", "s4"):
        assert sealing.open_sealed(f"{prefix}${rest}") is None


def _issued(key: str = "k" * 32, answer: str = "1234") -> Issued:
    now = timezone.now()
    return Issued(key, answer, now, now + timedelta(seconds=60))


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("returning", [True, False], ids=["returning", "portable"])
def test_every_pool_take_keeps_the_baits(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, returning: bool
) -> None:
    settings.GANCAPTCHA_SOURCE = "pool-then-draw"
    settings.GANCAPTCHA_POOL = {"size": 8, "autofill": False}
    if not returning:  # as on a database without DELETE ... RETURNING (MySQL)
        monkeypatch.setattr(sql, "supports_delete_returning", lambda db: False)
    pool.put([Rendered("5150", b"png", b"png-2x", baits=("5750", "5159"))])
    store = DatabaseStore()
    issued = pool.take(store)
    assert issued is not None
    assert store.consume(issued.key, timezone.now()) == Consumed(
        "5150", expired=False, baits=("5750", "5159")
    )


def test_the_postgresql_take_keeps_the_baits(
    settings: Settings, django_db_blocker: DjangoDbBlocker
) -> None:
    """PostgreSQL moves the sealed column from pool to live row in one statement."""
    settings.GANCAPTCHA_SOURCE = "pool-then-draw"
    settings.GANCAPTCHA_POOL = {"size": 8, "autofill": False}
    services.connect_postgres().close()
    with services.postgres_schema() as schema:
        with django_db_blocker.unblock(), services.postgres_alias(schema) as alias:
            pool.put([Rendered("5150", b"png", b"", baits=("5750",))], using=alias)
            store = DatabaseStore(using=alias)
            issued = pool.take(store)
            assert issued is not None
            consumed = store.consume(issued.key, timezone.now())
    assert consumed == Consumed("5150", expired=False, baits=("5750",))


@pytest.fixture
def sprung() -> Iterator[list[dict[str, Any]]]:
    """Every trap_sprung the test sends."""
    seen: list[dict[str, Any]] = []

    def note(**kwargs: Any) -> None:
        seen.append(kwargs)

    signals.trap_sprung.connect(note, weak=False)
    yield seen
    signals.trap_sprung.disconnect(note)


@pytest.mark.django_db
def test_the_bait_is_refused_signalled_and_logged_other_mistakes_only_refused(
    settings: Settings,
    sprung: list[dict[str, Any]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings.GANCAPTCHA_TRAP = True
    store = get_store()
    for key, typed, trapped in (
        ("a" * 32, "1784", True),
        ("b" * 32, "1794", False),  # one of its two misread digits: no signal
        ("c" * 32, "1234", False),
    ):
        store.save(_issued(key), Rendered("1234", b"png", b"", baits=("1784",)))
        with caplog.at_level(logging.WARNING, logger="gancaptcha_field.trap"):
            result = challenges.attempt(key, typed)
        assert result.trapped is trapped
        assert result.ok is (typed == "1234")
    assert [s["key"] for s in sprung] == ["a" * 32]
    assert caplog.text.count("bot signal") == 1


@pytest.mark.django_db
def test_turning_the_trap_off_stops_it_at_once(
    settings: Settings, sprung: list[dict[str, Any]]
) -> None:
    """Baits sealed while it was on (live rows, the pool) spring no more."""
    settings.GANCAPTCHA_TRAP = False
    get_store().save(_issued(), Rendered("1234", b"png", b"", baits=("1784",)))
    result = challenges.attempt("k" * 32, "1784")
    assert result.code is challenges.Code.INVALID and not result.trapped
    assert sprung == []


@pytest.mark.django_db
def test_a_failing_receiver_never_turns_the_refusal_into_an_error(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    settings.GANCAPTCHA_TRAP = True

    def broken(**_: Any) -> None:
        raise RuntimeError("the site's receiver broke")

    signals.trap_sprung.connect(broken, weak=False)
    try:
        get_store().save(_issued(), Rendered("1234", b"png", b"", baits=("1784",)))
        with caplog.at_level(logging.ERROR, logger="gancaptcha_field.challenges"):
            result = challenges.attempt("k" * 32, "1784")
    finally:
        signals.trap_sprung.disconnect(broken)
    assert result.code is challenges.Code.INVALID and result.trapped
    assert "the site's receiver broke" in caplog.text


def _signup(client: Client, key: str, answer: str, username: str) -> Any:
    return client.post("/signup/", signup_data(key, answer, username))


@pytest.mark.django_db
@pytest.mark.parametrize(("first", "limited"), [("1784", True), ("1284", False)])
@pytest.mark.usefixtures("fresh_counters")
def test_over_http_springing_the_trap_costs_the_client_its_penalty(
    settings: Settings, clock: Clock, first: str, limited: bool
) -> None:
    """fail 5/m and a penalty of 4: the bait uses all five failures at once, so
    the right answer to the next challenge is refused unread; an ordinary
    mistake costs one, and the next right answer passes."""
    settings.GANCAPTCHA_TRAP = True
    settings.GANCAPTCHA_RATELIMIT_ENABLED = True
    settings.GANCAPTCHA_RATELIMIT_RATES = {"fail": "5/m"}
    settings.GANCAPTCHA_TRAP_PENALTY = 4
    store = get_store()
    bot = Client(REMOTE_ADDR="198.51.100.7")
    store.save(_issued("a" * 32), Rendered("1234", b"png", b"", baits=("1784",)))
    refused = _signup(bot, "a" * 32, first, "ada")
    # The bot is told what any wrong answer is told: nothing of the trap.
    assert refused.status_code == 200 and captcha_codes(refused) == ["invalid"]
    store.save(_issued("b" * 32, "5678"), Rendered("5678", b"png", b""))
    response = _signup(bot, "b" * 32, "5678", "ada")
    if limited:
        assert response.status_code == 200
        assert captcha_codes(response) == ["rate_limited"]
    else:
        assert response.status_code == 302
    assert User.objects.filter(username="ada").exists() is not limited
    # Another client is not touched by this one's penalty.
    store.save(_issued("c" * 32, "9012"), Rendered("9012", b"png", b""))
    other = Client(REMOTE_ADDR="198.51.100.8")
    assert _signup(other, "c" * 32, "9012", "bob").status_code == 302


def _strips(count: int) -> tuple[list[np.ndarray], list[str]]:
    """Plain MNIST test challenges as served (1x at scale 2), with their answers."""
    by_label = _mnist_test_digits()
    rng = np.random.default_rng(3)
    strips, truths = [], []
    for i in range(count):
        labels = rng.integers(0, 10, 4)
        digits = np.stack([by_label[d][i] for d in labels])
        with Image.open(io.BytesIO(compose_png(digits, 2))) as image:
            strips.append(np.asarray(image))
        truths.append("".join(str(int(d)) for d in labels))
    return strips, truths


def test_the_trap_cuts_four_mnist_shaped_pieces_in_order() -> None:
    strips, _ = _strips(20)
    for strip in strips:
        pieces = trap.pieces(strip)
        assert pieces.shape == (4, 28, 28) and pieces.dtype == np.float32
        assert 0.0 <= pieces.min() and pieces.max() <= 1.0
        for piece in pieces:
            ys, xs = np.indices(piece.shape)
            assert piece.sum() > 0
            assert abs((ys * piece).sum() / piece.sum() - 14) < 1.5
            assert abs((xs * piece).sum() / piece.sum() - 14) < 1.5
    # Equal cells with gaps: each piece is its own cell's digit, in order.
    strip = strips[0]
    cells = [255 - strip[:, 56 * k : 56 * (k + 1)] for k in range(4)]
    for piece, cell in zip(trap.pieces(strip), cells, strict=True):
        box = trap._centred(cell.astype(np.float32) / 255 * (cell > 127))
        assert np.abs(piece - box).mean() < 0.05
    with pytest.raises(ValueError):
        trap.pieces(np.zeros((2, 56, 224), np.uint8))


@pytest.mark.usefixtures("captcha_models")
def test_the_baits_are_what_the_classifiers_read_in_the_strip() -> None:
    """Plain MNIST test strips, whose digits the shipped reader and verifier
    both read right: claimed with a wrong answer, each strip's bait is its
    true labels; claimed with its own, it has none."""
    strips, truths = _strips(12)
    wrong = [
        t[::-1] if t[::-1] != t else f"{(int(t) + 1) % 10_000:04d}" for t in truths
    ]
    assert trap.baits(strips, wrong) == [(t,) for t in truths]
    assert trap.baits(strips, truths) == [()] * len(truths)
    assert trap.baits([], []) == []
    with pytest.raises(ValueError):
        trap.baits(strips, truths[:-1])


@pytest.fixture
def seeded_draws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The shipped models' draws and the hardening's geometry, seeded; no
    digits left over from other tests, none left behind for them."""
    seeds = iter(range(1000))
    monkeypatch.setattr(harden, "new_rng", lambda: np.random.default_rng(next(seeds)))
    shared = registry.get_registry()
    monkeypatch.setattr(shared, "rng", np.random.default_rng(7))
    shared.clear_buckets()
    yield
    shared.clear_buckets()


@pytest.mark.usefixtures("captcha_models", "seeded_draws")
def test_hardened_challenges_carry_the_baits_of_their_served_png(
    settings: Settings,
) -> None:
    settings.GANCAPTCHA_HARDEN = True
    settings.GANCAPTCHA_TRAP = True
    wanted = [f"{(1234 + 1111 * i) % 10_000:04d}" for i in range(24)]
    rendered = render.render_answers(wanted)
    for item, answer in zip(rendered, wanted, strict=True):
        assert item.answer == answer
        with Image.open(io.BytesIO(item.png)) as image:
            strip = np.asarray(image)
        (found,) = trap.baits([strip], [answer])
        assert item.baits == found
        assert all(len(b) == 4 and b != answer for b in found)
    # Hardening fools these stock readings often: some challenges are baited.
    assert sum(bool(r.baits) for r in rendered) >= 4
    settings.GANCAPTCHA_TRAP = False
    assert all(r.baits == () for r in render.render_answers(wanted[:4]))

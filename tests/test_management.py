"""What the management commands share: an unmigrated database is a CommandError."""

from __future__ import annotations

from collections.abc import Iterator
from io import StringIO
from pathlib import Path
from typing import Any

import pytest

from django.core.management import CommandError, call_command

from gancaptcha_field.management import require_tables


@pytest.fixture
def unmigrated(transactional_db: None) -> Iterator[None]:
    """The test database without the GanCaptcha tables, as before `migrate`."""
    call_command("migrate", "gancaptcha_field", "zero", verbosity=0)
    try:
        yield
    finally:
        # Back before pytest-django flushes the tables.
        call_command("migrate", "gancaptcha_field", verbosity=0)


@pytest.mark.usefixtures("unmigrated")
@pytest.mark.parametrize(
    "command", ["captcha_attack", "captcha_fill_pool", "captcha_cleanup"]
)
def test_commands_ask_for_migrate_when_tables_are_missing(
    command: str, tmp_path: Path
) -> None:
    # A judge that cannot load: the attack must stop before it needs one (or
    # trains one, for minutes).
    judge = tmp_path / "judge.keras"
    judge.write_bytes(b"not a keras file")
    options: dict[str, Any] = {
        "captcha_attack": {"challenges": 1, "quick": True},
        "captcha_fill_pool": {"size": 1},
        "captcha_cleanup": {},
    }[command]
    with pytest.raises(CommandError, match=r"run `python manage\.py migrate`") as info:
        call_command(command, stdout=StringIO(), **options)
    assert "gancaptcha_field_challenge" in str(info.value)


@pytest.mark.usefixtures("unmigrated")
def test_require_tables_names_what_is_missing() -> None:
    call_command("migrate", "gancaptcha_field", "0001", verbosity=0)
    with pytest.raises(CommandError) as info:
        require_tables()
    message = str(info.value)
    assert "gancaptcha_field_pooledchallenge" in message
    assert "gancaptcha_field_challenge" not in message  # 0001 made that one


@pytest.mark.django_db
def test_require_tables_passes_on_a_migrated_database() -> None:
    require_tables()


@pytest.mark.parametrize(
    ("command", "flag"),
    [
        ("captcha_attack", "--challenges"),
        ("captcha_sample", "--count"),
        ("captcha_fill_pool", "--size"),
        ("captcha_fill_pool", "--interval"),
        ("train_captcha_models", "--gan-epochs"),
        ("train_captcha_models", "--calibration-samples"),
    ],
)
@pytest.mark.parametrize("value", ["0", "-3", "many", "nan"])
def test_counts_and_intervals_must_be_positive(
    command: str, flag: str, value: str, tmp_path: Path
) -> None:
    # Refused while parsing: nothing is loaded, trained or written.
    extra = ["--output", str(tmp_path / "x.npz")] if command == "captcha_sample" else []
    # An option with an alias is named by both: "argument --challenges/--count".
    refused = rf"argument {flag}(/[-\w]+)?: '{value}' is not a"
    with pytest.raises(CommandError, match=refused):
        call_command(command, flag, value, *extra, stdout=StringIO())
    assert list(tmp_path.iterdir()) == []


def test_argument_types() -> None:
    from argparse import ArgumentTypeError

    from gancaptcha_field.management.arguments import positive_float, positive_int

    assert positive_int("7") == 7
    assert positive_float("0.25") == 0.25
    for bad in ("0", "1.5", "", "x"):
        with pytest.raises(ArgumentTypeError):
            positive_int(bad)
    for bad in ("0", "-1", "nan", "x"):
        with pytest.raises(ArgumentTypeError):
            positive_float(bad)

"""Settings, read from django.conf.settings on every access (never frozen)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings

from gancaptcha_field import constants


class Settings:
    """One property per GANCAPTCHA_* setting; the defaults live only here."""

    def _get(self, name: str, default: Any) -> Any:
        return getattr(settings, f"GANCAPTCHA_{name}", default)

    @property
    def MODEL_DIR(self) -> Path | None:
        value = self._get("MODEL_DIR", None)
        if value is None:
            base = getattr(settings, "BASE_DIR", None)
            return Path(base) / "ml_models" if base is not None else None
        return Path(value)

    @property
    def TIMEOUT(self) -> int:
        return int(self._get("TIMEOUT", 300))

    @property
    def READER_THRESHOLD(self) -> float:
        return float(self._get("READER_THRESHOLD", constants.DEFAULT_READER_THRESHOLD))

    @property
    def VERIFIER_THRESHOLD(self) -> float:
        return float(
            self._get("VERIFIER_THRESHOLD", constants.DEFAULT_VERIFIER_THRESHOLD)
        )

    @property
    def TEST_MODE(self) -> bool:
        return bool(self._get("TEST_MODE", False))

    @property
    def TEST_ANSWER(self) -> str:
        # Four characters so that it fits the answer input (maxlength 4), and
        # never a real answer, which is always four digits.
        return "PASS"

    @property
    def PRELOAD(self) -> bool | str:
        value = self._get("PRELOAD", "auto")
        return value if value == "auto" else bool(value)

    @property
    def BATCH_SIZE(self) -> int:
        return int(self._get("BATCH_SIZE", 512))

    @property
    def BUCKET_SIZE(self) -> int:
        return int(self._get("BUCKET_SIZE", 64))

    @property
    def MAX_BATCHES(self) -> int:
        return int(self._get("MAX_BATCHES", 40))

    @property
    def IMAGE_SCALE(self) -> int:
        return int(self._get("IMAGE_SCALE", 2))


conf = Settings()

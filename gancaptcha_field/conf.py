"""Settings, read from django.conf.settings on every access (never frozen)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings

from gancaptcha_field import constants

# Per client address: challenges issued (page renders and refreshes), images
# fetched, and failed answers.
DEFAULT_RATELIMIT_RATES: dict[str, str | None] = {
    "create": "30/m",
    "image": "120/m",
    "fail": "10/m",
}


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

    @property
    def STORE(self) -> str:
        # "database" (the Challenge table) or "cache" (CACHE_ALIAS).
        return str(self._get("STORE", "database"))

    @property
    def CACHE_ALIAS(self) -> str:
        return str(self._get("CACHE_ALIAS", "default"))

    @property
    def POOL_SIZE(self) -> int:
        # 0: no pool, every challenge is drawn when it is asked for.
        return int(self._get("POOL_SIZE", 0))

    @property
    def POOL_LOW_WATER(self) -> int:
        value = self._get("POOL_LOW_WATER", None)
        return self.POOL_SIZE // 4 if value is None else int(value)

    @property
    def POOL_BATCH(self) -> int:
        return int(self._get("POOL_BATCH", 64))

    @property
    def POOL_RESERVE(self) -> int:
        # Most pooled challenges a process takes in one statement (1: one at
        # a time); it takes more only as fast as it hands them out.
        return max(1, int(self._get("POOL_RESERVE", 16)))

    @property
    def POOL_AUTOFILL(self) -> bool:
        return bool(self._get("POOL_AUTOFILL", True))

    @property
    def POOL_ONLY(self) -> bool:
        return bool(self._get("POOL_ONLY", False))

    @property
    def SYNCHRONOUS_COMMIT(self) -> bool:
        # PostgreSQL only: whether issuing a challenge waits for the disk.
        return bool(self._get("SYNCHRONOUS_COMMIT", False))

    @property
    def RATELIMIT_ENABLED(self) -> bool:
        return bool(self._get("RATELIMIT_ENABLED", False))

    @property
    def RATELIMIT_RATES(self) -> dict[str, str | None]:
        # A partial dict overrides only the actions it names; None: unlimited.
        return {**DEFAULT_RATELIMIT_RATES, **self._get("RATELIMIT_RATES", {})}

    @property
    def RATELIMIT_CACHE(self) -> str:
        return str(self._get("RATELIMIT_CACHE", "default"))

    @property
    def CLIENT_IP(self) -> str | int:
        # Never X-Forwarded-For by default: any client can write that header.
        value: str | int = self._get("CLIENT_IP", "REMOTE_ADDR")
        return value

    @property
    def LATENT_BANK(self) -> bool:
        # Draw near the model set's latents.npz when it has one (False: plain
        # N(0, I) noise, the way sets without a bank are always served).
        return bool(self._get("LATENT_BANK", True))

    @property
    def MARGIN(self) -> float:
        # ln(top1 / top2) both classifiers must reach; 0 turns the margin off.
        value = float(self._get("MARGIN", constants.DEFAULT_MARGIN))
        if not value >= 0:
            raise ValueError(f"GANCAPTCHA_MARGIN must be >= 0, not {value!r}")
        return value


conf = Settings()

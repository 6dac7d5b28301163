"""Internal. The challenge store's table."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from gancaptcha_field import sealing

# secrets.token_urlsafe(24) gives 32 characters; room to grow without a migration.
KEY_MAX_LENGTH = 64


class Challenge(models.Model):
    """One issued CAPTCHA: a secret key, its answer and the image shown for it."""

    key = models.CharField(_("key"), max_length=KEY_MAX_LENGTH, primary_key=True)
    # Sealed (sealing.py): without SECRET_KEY the column holds no answers.
    answer = models.CharField(_("answer"), max_length=sealing.MAX_LENGTH)
    png = models.BinaryField(_("PNG image"))
    # Twice the pixels, for HiDPI screens (srcset); made with the 1x image.
    png_2x = models.BinaryField(_("PNG image, 2x"), default=b"")
    created_at = models.DateTimeField(_("created at"))
    expires_at = models.DateTimeField(_("expires at"), db_index=True)

    class Meta:
        verbose_name = _("challenge")
        verbose_name_plural = _("challenges")

    def __str__(self) -> str:
        # Never the answer: this may end up in logs.
        return f"Challenge {self.key[:8]}…"


class PooledChallenge(models.Model):
    """A challenge drawn and rendered ahead of time, not yet shown to anyone.

    Rows have no key: a key is made when the row is handed out, and the row is
    deleted in the same transaction, so each one reaches exactly one visitor.
    """

    # Sealed as in Challenge; copied as it is when the row is handed out.
    answer = models.CharField(_("answer"), max_length=sealing.MAX_LENGTH)
    png = models.BinaryField(_("PNG image"))
    png_2x = models.BinaryField(_("PNG image, 2x"))
    # GANCAPTCHA_IMAGE_SCALE when rendered; rows of another scale are not served.
    scale = models.PositiveSmallIntegerField(_("image scale"))
    created_at = models.DateTimeField(_("created at"))

    class Meta:
        verbose_name = _("pooled challenge")
        verbose_name_plural = _("pooled challenges")
        indexes = [models.Index(fields=["scale", "id"], name="gancaptcha_pool_scale")]

    def __str__(self) -> str:
        return f"Pooled challenge {self.pk}"

"""GanCaptcha: a Django CAPTCHA field whose digits a GAN drew and a CNN labelled.

The public API, which changes only with a CHANGELOG entry and a deprecation:

- ``fields``: ``GanCaptchaField``, the form field.
- ``widgets``: ``GanCaptchaWidget``, its widget, and the templates it renders.
- ``urls``: ``path("gancaptcha/", include("gancaptcha_field.urls"))``.
- ``ratelimit.RateLimitMiddleware``: the rate limits' middleware.
- ``drf``: ``GanCaptchaSerializerField`` (the ``[drf]`` extra).
- ``login``: ``CaptchaAuthenticationForm``, ``CaptchaAdminAuthenticationForm``.
- ``testing``: ``answer_for``, ``solve``, ``solve_all``, ``passing_data`` and
  the ``captcha_answer`` pytest fixture.
- ``signals``: ``trap_sprung``.
- Two functions the manual documents: ``challenges.get_answer_for_audio`` and
  ``pow.solve``.

Beside these, the ``GANCAPTCHA_*`` settings, the management commands' names
and flags, and the system checks' ids. Every other module is internal (its
docstring starts "Internal.") and may change without notice. The attacker lab
is a separate app of the repository (``gancaptcha_lab``), not in the wheel.
"""

__version__ = "0.1.0"

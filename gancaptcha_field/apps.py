"""Internal. App configuration: system checks, and the model loader for serving
processes."""

from __future__ import annotations

import logging
import os
import sys

from django.apps import AppConfig
from django.core.signals import request_started
from django.utils.translation import gettext_lazy as _

logger = logging.getLogger(__name__)

# manage.py commands that serve challenges and so want the models in memory;
# all but runserver and captcha_fill_pool are the lab's (gancaptcha_lab), named
# here so that its commands preload too without this app importing it.
SERVING_COMMANDS = frozenset(
    {"runserver", "captcha_sample", "captcha_attack", "captcha_fill_pool"}
)


def _management_command(argv: list[str]) -> str | None:
    """The command of a manage.py / django-admin / `python -m django` process
    ("" when none is given); None for any other program."""
    path = argv[0].replace("\\", "/") if argv else ""
    program = path.rsplit("/", 1)[-1]
    if (
        program in {"manage.py", "django-admin"}
        or program.endswith("-script.py")
        or path.endswith("django/__main__.py")
    ):
        return argv[1] if len(argv) > 1 else ""
    return None


def is_serving_process(argv: list[str], under_test: bool = False) -> bool:
    """Guess whether this process serves requests (for GANCAPTCHA_PRELOAD='auto').

    manage.py and django-admin processes serve only for the commands above;
    anything else (gunicorn, `python -m gunicorn`, uWSGI, an ASGI server
    importing wsgi/asgi.py) is taken to serve. Test runners never preload:
    they load on first use.
    """
    command = _management_command(argv)
    if command is None:
        return not under_test
    if command not in SERVING_COMMANDS:
        return False
    # runserver's autoreloader parent only watches files; its child
    # (RUN_MAIN=true) is the one that serves.
    return not (
        command == "runserver"
        and "--noreload" not in argv
        and os.environ.get("RUN_MAIN") != "true"
    )


def is_web_server(argv: list[str], under_test: bool = False) -> bool:
    """True for a process that answers web requests: runserver's serving child,
    or a WSGI/ASGI server. Unlike is_serving_process, commands that only draw
    (captcha_sample, captcha_attack, captcha_fill_pool) are not web servers."""
    if not is_serving_process(argv, under_test):
        return False
    return _management_command(argv) in (None, "runserver")


_FILL_AHEAD = "gancaptcha_field.fill_ahead"


def _fill_ahead(**kwargs: object) -> None:
    """Start filling the pool in the background, once per process."""
    request_started.disconnect(dispatch_uid=_FILL_AHEAD)
    from gancaptcha_field.supply.source import current_source

    try:
        # The settings as they are now.
        current_source().refill_if_low(force_check=True)
    except Exception as exc:  # before `migrate`, no thread...: never fail the page
        logger.warning("GanCaptcha pool: cannot fill ahead (%s)", exc)


class GanCaptchaConfig(AppConfig):
    """Registers checks; a serving process loads the models once, here, and a
    web server fills the pool (GANCAPTCHA_POOL["size"]) from its first request."""

    name = "gancaptcha_field"
    verbose_name = _("GanCaptcha")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from gancaptcha_field import checks
        from gancaptcha_field.conf import conf
        from gancaptcha_field.supply import registry
        from gancaptcha_field.supply.source import current_source

        checks.register()
        preload = conf.PRELOAD
        source = current_source()
        if not source.draws:
            # Serves from the shared pool only: never loads the models.
            return
        if preload is True or (
            preload == "auto"
            and is_serving_process(sys.argv, under_test="pytest" in sys.modules)
        ):
            # Idempotent (a second ready() finds the models loaded) and never
            # fatal: a failure is logged, reported by the checks, and the form
            # shows "temporarily unavailable".
            registry.get_registry().load()
            if (
                source.refills
                and is_web_server(sys.argv, under_test="pytest" in sys.modules)
                and registry.get_registry().status().ok
            ):
                # Fill the pool ahead from the first request this process
                # serves (any page: a health check will do), before anyone
                # asks for a challenge. Not here: a script that merely sets
                # Django up would start drawing, and exit mid-draw.
                request_started.connect(_fill_ahead, dispatch_uid=_FILL_AHEAD)

"""ASGI entry point for the demo site: ``uvicorn demo_site.asgi:application``."""

from __future__ import annotations

import os

from django.conf import settings
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler
from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "demo_site.settings")

application = get_asgi_application()
# runserver serves the widget's script and styles itself when DEBUG is on; an
# ASGI server does not, so the demo does it here, as runserver would.
if settings.DEBUG:
    application = ASGIStaticFilesHandler(application)

"""Settings for a web server process the pool tests start (not for pytest).

The test settings with the pool as a site gets it (GANCAPTCHA_SOURCE and the
pool's size not set) and a SQLite file (GC_WEB_DB) that the test can read while the
server runs.
"""

from __future__ import annotations

import os

from tests.settings import *  # noqa: F403

globals().pop("GANCAPTCHA_SOURCE")  # the default source, as a site gets it
DEBUG = True
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ["GC_WEB_DB"],
    }
}
GANCAPTCHA_PRELOAD = "auto"
GANCAPTCHA_POOL = {"batch": 4}

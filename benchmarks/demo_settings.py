"""The demo site as shipped (demo_site/settings.py) for benchmarks/sustained.py.

Two changes only: rate limits off (a benchmark is one client hammering) and a
SQLite file of the benchmark's own (BENCH_DEMO_DB), so a run starts from an
empty pool and leaves the demo's db.sqlite3 alone.
"""

from __future__ import annotations

import os

from demo_site.settings import *  # noqa: F403

GANCAPTCHA_RATELIMIT_ENABLED = False
DATABASES = {
    "default": {
        **DATABASES["default"],  # noqa: F405
        "NAME": os.environ["BENCH_DEMO_DB"],
    }
}

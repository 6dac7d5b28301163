"""Sphinx configuration: `make docs` builds docs/ into docs/_build/html."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import django

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(Path(__file__).resolve().parent / "_ext")]
# The check and settings references and autodoc import the app, so Django is
# set up as the test suite sets it up (no models are loaded: not a server).
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
django.setup()

project = "GanCaptcha"
author = "the GanCaptcha authors"
copyright = "2026, the GanCaptcha authors"
release = "0.1.0"

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "gancaptcha_docs",
]
myst_heading_anchors = 3
myst_enable_extensions = ["colon_fence"]
source_suffix = {".md": "markdown"}
root_doc = "index"
# Figures' data, the panel's sheets and the lab's raw files stay beside the
# pages as assets; no_reading.md is generated and included by a page.
exclude_patterns = [
    "_build",
    "_moved",
    "no_reading.md",
    "panel/*/**",
    "lab/**",
]
autodoc_member_order = "bysource"
autodoc_typehints = "description"

html_theme = "furo"
html_title = "GanCaptcha"

# Each target does its own setup: a fresh clone needs only python3 and make.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
BENCH_STAMP := $(VENV)/.bench-installed
DOCS_STAMP := $(VENV)/.docs-installed
LAB_STAMP := $(VENV)/.lab-installed

.PHONY: install run test lint docs train sample attack panel bench dist clean

$(STAMP): requirements.txt requirements-train.txt requirements-lab.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

# The lab (gancaptcha_lab) on its own requirements; requirements-dev.txt
# includes them, so this is quick after install.
$(LAB_STAMP): $(STAMP) requirements-lab.txt
	$(BIN)/pip install --quiet -r requirements-lab.txt
	touch $(LAB_STAMP)

$(BENCH_STAMP): $(STAMP) requirements-bench.txt
	$(BIN)/pip install --quiet -r requirements-bench.txt
	touch $(BENCH_STAMP)

# The pool is filled first (GANCAPTCHA_POOL["size"], a few tens of seconds on
# 2 cores; a full pool is left as it is), so the demo starts able to absorb a
# burst instead of drawing what it serves.
run: $(STAMP)
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py captcha_fill_pool
	$(BIN)/python manage.py runserver 127.0.0.1:8000

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# The documentation site, warnings as errors: docs/_build/html/index.html.
$(DOCS_STAMP): $(STAMP) requirements-docs.txt
	$(BIN)/pip install --quiet -r requirements-docs.txt
	touch $(DOCS_STAMP)

docs: $(DOCS_STAMP)
	$(BIN)/sphinx-build -W --keep-going -b html docs docs/_build/html

train: $(STAMP)
	$(BIN)/python manage.py train_captcha_models

sample: $(LAB_STAMP)
	$(BIN)/python manage.py captcha_sample --count 100 --output /tmp/gancaptcha_sample.npz --sheet docs/sample_sheet.png

# The attacker lab's table. The first run trains the attackers and draws the
# challenges it lacks (tens of minutes); all cached in ~/.cache/gancaptcha-lab.
# ATTACK_ARGS=--quick checks that it runs.
attack: $(LAB_STAMP)
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py captcha_attack --json /tmp/gancaptcha_attack.json $(ATTACK_ARGS)

# The blind reading panel's figures, from the sheets, keys and transcriptions
# kept in docs/panel/ (protocol: docs/panel.md). A new panel:
#   .venv/bin/python manage.py captcha_panel draw docs/panel/<name> --count 100
panel: $(LAB_STAMP)
	@for p in $(PANELS); do $(BIN)/python manage.py captcha_panel score docs/panel/$$p || exit 1; echo; done

PANELS ?= plain hardened hardened-2 mild

# Speed and memory against the seed pipeline and django-simple-captcha
# (minutes; not part of the tests). BENCH_ARGS=--quick checks that it runs.
bench: $(BENCH_STAMP)
	@command -v wrk >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && apt-get update -qq && apt-get install -y -qq wrk >/dev/null; } || echo "bench: no wrk; the HTTP section will be skipped"
	$(BIN)/python -m benchmarks.bench $(BENCH_ARGS)

# The sdist and the wheel in dist/ (version: gancaptcha_field.__version__),
# checked as PyPI would check them.
dist: $(STAMP)
	rm -rf dist
	$(BIN)/python -m build --outdir dist .
	$(BIN)/twine check --strict dist/*

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache docs/_build dist build

# The course's commands. Each one creates .venv on first use.
#   make lab      start JupyterLab on chapters/00_setup.ipynb (127.0.0.1, token auth on)
#   make test     ruff + unit tests + every notebook under nbval
#   make refresh  re-execute every notebook in place, fresh kernel, top to bottom
#   make workspace  copy the chapters to workspace/ (git-ignored; existing copies kept) and open JupyterLab there
#   make site     build the course website from the stored outputs into build/site (.venv-site)
#   make test-browser  test the website and JupyterLab in Chromium (skips when none is installed)
#   make sync     rewrite the code cells marked '# source: utils/...' from the package
#   make zh       regenerate the Chinese edition (chapters/zh, solutions/zh) and re-run what changed
#   make test-zh  every Chinese notebook under nbval
#   make bench    attention benchmarks (not a test): python -m utils.bench.run
#   make clean    remove .venv, caches and benchmark output

PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
NOTEBOOKS := $(sort $(wildcard chapters/*.ipynb solutions/*.ipynb))
NBVAL := --nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg --nbval-cell-timeout 600

.PHONY: site test-browser lab workspace test lint unit nbval refresh sync zh test-zh bench clean venv

venv: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e . || $(PY) -m pip install --quiet --no-deps -e .
	touch $(STAMP)

lab: $(STAMP)
	$(PY) -m tools.lab $(LAB_ARGS)

# Learners solve the exercises in their own copies, so `make test` and `git pull` never see their answers.
workspace: $(STAMP)
	mkdir -p workspace
	for f in chapters/*.ipynb; do [ -e "workspace/$${f##*/}" ] || cp "$$f" workspace/; done
	$(PY) -c "import sys, tools.lab as lab; lab.START_NOTEBOOK = 'workspace/00_setup.ipynb'; lab.lab_url.__defaults__ = (lab.START_NOTEBOOK,); sys.exit(lab.main([]))"

# The website and the browser tests have their own venv, so learners never install them.
SITE_VENV := .venv-site
SITE_PY := $(SITE_VENV)/bin/python
SITE_STAMP := $(SITE_VENV)/.installed-site
BROWSER_STAMP := $(SITE_VENV)/.installed-browser

$(SITE_STAMP): requirements-site.txt
	test -x $(SITE_PY) || $(PYTHON) -m venv $(SITE_VENV)
	$(SITE_PY) -m pip install --quiet --upgrade pip
	$(SITE_PY) -m pip install --quiet -r requirements-site.txt
	touch $@

$(BROWSER_STAMP): requirements-browser.txt $(SITE_STAMP)
	$(SITE_PY) -m pip install --quiet -r requirements-browser.txt
	touch $@

site: $(SITE_STAMP)
	$(SITE_PY) -m tools.site

test-browser: site $(BROWSER_STAMP) $(STAMP)
	@test -x "$${COURSE_CHROMIUM:-/usr/bin/chromium}" || echo "make test-browser: no Chromium found, the tests will skip." \
		"Install one: sudo apt-get install -y chromium chromium-driver fonts-noto-color-emoji fonts-noto-cjk"
	COURSE_BROWSER_TESTS=1 $(SITE_PY) -m pytest -p no:cacheprovider --confcutdir=tests/browser -rs --durations=5 tests/browser

lint: $(STAMP)
	$(PY) -m ruff check conftest.py utils tools tests chapters solutions

unit: $(STAMP)
	$(PY) -m pytest tests

nbval: $(STAMP)
	$(PY) -m pytest $(NBVAL) chapters solutions --ignore=chapters/zh --ignore=solutions/zh

# The Chinese edition (中文版): generated from the English notebooks and i18n/zh/ (tools/zh_edition.py).
zh: $(STAMP)
	$(PY) -m tools.zh_edition make

test-zh: $(STAMP)
	$(PY) -m pytest $(NBVAL) chapters/zh solutions/zh

test: lint unit nbval

refresh: $(STAMP)
	$(PY) -m tools.notebooks refresh $(NB)

sync: $(STAMP)
	$(PY) -m tools.sync_cells

bench: $(STAMP)
	$(PY) -m utils.bench.run --json bench/results.json

clean:
	rm -rf $(VENV) $(SITE_VENV) .pytest_cache .ruff_cache bench build *.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +

# Maintainer commands for the GAN course book. Everything runs through the project's own
# virtual environment (.venv/bin/python -m ...); no activated shell is needed.
#
#   make book                 build the website into _build/html
#   make test                 every test: package, notebooks (nbval), book build, browser
#   make execute [NB=01]      re-execute chapters in place under the cpu profile
#   make student              student notebooks without solutions, in _build/student
#   make benchmark            package training step vs a hand-written loop (BENCH_ARGS=...)
#   make gpu-dry [NB=08]      the gpu profile's sizes on this machine, steps capped, stand-in data
#   make clean / distclean    remove build outputs (distclean: the virtual environment too)

SHELL       := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON3 ?= python3
VENV    := .venv
PY      := $(VENV)/bin/python
JB      := $(VENV)/bin/jupyter-book

# MathJax 3 from npm, shipped with the website so that equations typeset offline.
# The copy lives outside a root _static/ folder on purpose: Jupyter Book 1.x adds every .js
# file under _static/ to every page as a <script>, which would load all MathJax components.
# _config.yml names this folder in html_static_path and points mathjax_path at it.
MATHJAX_VERSION := 3.2.2
MATHJAX_NPM     := .cache/npm
MATHJAX_STATIC  := .cache/mathjax-static
MATHJAX_DIR     := $(MATHJAX_STATIC)/mathjax
MATHJAX_STAMP   := $(MATHJAX_DIR)/.installed-$(MATHJAX_VERSION)

# ipywidgets 7 (what Colab ships) for tests/test_explorers_ipywidgets.py: the package and the
# one module it needs that the environment lacks, installed without dependencies into a folder
# beside the virtual environment (version 8 stays installed there); the test puts this folder
# first on the path of a subprocess, so the explorers run against the 7.x API.
IPYWIDGETS7_VERSION      := 7.7.1
IPYTHON_GENUTILS_VERSION := 0.2.0
IPYWIDGETS7_DIR          := .cache/ipywidgets7
IPYWIDGETS7_STAMP        := $(IPYWIDGETS7_DIR)/.installed-$(IPYWIDGETS7_VERSION)

NB ?=
NOTEBOOKS = $(sort $(wildcard notebooks/$(NB)*.ipynb))

# Per-test limit (seconds) for pytest-timeout; the first book test also builds the book.
TEST_TIMEOUT ?= 900
# Extra pytest arguments, e.g. make test PYTEST_ARGS="-x -m 'not browser'"
PYTEST_ARGS ?=

.PHONY: help setup mathjax ipywidgets7 book test execute gpu-dry student exercises benchmark clean distclean

# make gpu-dry: every chapter with exactly the gpu profile's data, image sizes, widths and
# batches, on whatever device is here, with every training loop capped at DRY_STEPS steps and
# generated stand-ins for the data that cannot be downloaded (CycleGAN archives, CelebA).
# The executed copies go to _build/gpu-dry/; the stored notebooks are not touched.
DRY_STEPS ?= 2

help:
	@echo "make setup              create .venv, install requirements.txt and the package, fetch MathJax,"
	@echo "                        put ipywidgets 7 (Colab's) in .cache/ipywidgets7 for a test"
	@echo "make book               build the website into _build/html"
	@echo "make test               run every test (package, notebooks, book build, browser)"
	@echo "make execute [NB=01]    re-execute notebooks in place (GAN_COURSE_PROFILE=cpu)"
	@echo "make student            write student notebooks without solutions to _build/student"
	@echo "make exercises          regenerate book/exercises.md from the notebooks"
	@echo "make gpu-dry [NB=08]    run notebooks with the gpu profile's sizes, steps capped (DRY_STEPS=2)"
	@echo "make benchmark          time the package's DCGAN step against a hand-written loop"
	@echo "make clean | distclean  remove build outputs and caches | also .venv and .cache (MathJax)"

setup: $(VENV)/.installed mathjax ipywidgets7

$(VENV)/bin/python:
	$(PYTHON3) -m venv $(VENV)

$(VENV)/.installed: requirements.txt pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install -r requirements.txt
	$(PY) -m pip install -e .
	touch $@

mathjax: $(MATHJAX_STAMP)

$(MATHJAX_STAMP):
	@command -v npm >/dev/null || { echo "npm is needed to fetch MathJax (apt-get install nodejs npm)"; exit 1; }
	rm -rf $(MATHJAX_NPM) $(MATHJAX_DIR)
	mkdir -p $(MATHJAX_NPM) $(MATHJAX_DIR)
	npm pack --silent --pack-destination $(MATHJAX_NPM) mathjax@$(MATHJAX_VERSION) >/dev/null
	tar -xzf $(MATHJAX_NPM)/mathjax-$(MATHJAX_VERSION).tgz -C $(MATHJAX_NPM)
	# The combined component the pages load, plus the folders it loads from at run time:
	# TeX extensions (autoload), CHTML fonts, the menu, accessibility and speech modules.
	cp $(MATHJAX_NPM)/package/es5/tex-chtml.js $(MATHJAX_DIR)/
	cp -r $(MATHJAX_NPM)/package/es5/{a11y,adaptors,input,output,sre,ui} $(MATHJAX_DIR)/
	cp $(MATHJAX_NPM)/package/LICENSE $(MATHJAX_DIR)/
	touch $@

ipywidgets7: $(IPYWIDGETS7_STAMP)

$(IPYWIDGETS7_STAMP): | $(VENV)/bin/python
	rm -rf $(IPYWIDGETS7_DIR)
	$(PY) -m pip install --quiet --no-deps --target $(IPYWIDGETS7_DIR) \
		ipywidgets==$(IPYWIDGETS7_VERSION) ipython_genutils==$(IPYTHON_GENUTILS_VERSION)
	touch $@

book: setup
	$(JB) build . -W -n --keep-going
	@echo
	@echo "Website built: open _build/html/index.html in a browser,"
	@echo "or serve it with: $(PY) -m http.server -d _build/html 8000"

test: setup
	GAN_COURSE_PROFILE=smoke $(PY) -m pytest --nbval-lax --nbval-current-env --timeout=$(TEST_TIMEOUT) $(PYTEST_ARGS)

execute: setup
	@test -n "$(NOTEBOOKS)" || { echo "no notebook matches notebooks/$(NB)*.ipynb"; exit 1; }
	GAN_COURSE_PROFILE=cpu $(PY) tools/execute.py $(NOTEBOOKS)

gpu-dry: setup
	@test -n "$(NOTEBOOKS)" || { echo "no notebook matches notebooks/$(NB)*.ipynb"; exit 1; }
	GAN_COURSE_PROFILE=gpu GAN_COURSE_MAX_STEPS=$(DRY_STEPS) GAN_COURSE_STANDIN=1 \
		$(PY) tools/execute.py --cell-times 10 --out _build/gpu-dry $(NOTEBOOKS)

student: setup
	$(PY) tools/student.py $(sort $(wildcard notebooks/*.ipynb)) --out _build/student
	@echo "Student notebooks (solutions removed) are in _build/student/"

exercises: setup
	$(PY) tools/exercise_index.py

benchmark: setup
	$(PY) benchmarks/dcgan_step.py $(BENCH_ARGS)

clean:
	rm -rf _build .pytest_cache .hypothesis
	find . -path ./$(VENV) -prune -o \( -name __pycache__ -o -name .ipynb_checkpoints \) -type d -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV) .cache *.egg-info

# tvrkit developer entry points. `make demo` and `make test` are all a fresh machine needs.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO_ROOT ?= data/synthetic
DEMO_OUT  ?= runs/demo

.DEFAULT_GOAL := help
.PHONY: help setup system-deps test test-fast demo compare bench lint clean offline-bundle

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-15s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

# Re-installs only when the package metadata changed (the stamp is older than setup.cfg).
$(STAMP): setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# FFmpeg's shared libraries for torchcodec, an opt-in raw-video decoder (TVRKIT_RAW_DECODERS=torchcodec,pyav);
# nothing else needs them: the default, PyAV, ships its own FFmpeg. Installs only as root where apt-get exists.
FFMPEG_LIBS := libavcodec59 libavformat59 libavutil57 libswscale6 libswresample4 libavdevice59 libavfilter8
system-deps: ## optional: FFmpeg's shared libraries for torchcodec (Debian, as root; otherwise says what to install)
	@missing=$$(for p in $(FFMPEG_LIBS); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -z "$$missing" ]; then echo "system-deps: FFmpeg libraries present"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	else echo "system-deps: missing $$missing (optional: only torchcodec needs them)"; fi

setup: $(STAMP) ## create .venv and install tvrkit editable with dev extras (no-op when up to date)

test: setup ## run the full test suite (the CI gate)
	$(BIN)/python -m pytest -q

test-fast: setup ## run the tests not marked slow
	$(BIN)/python -m pytest -q -m "not slow"

demo: setup ## synthetic dataset -> compress -> shard -> train -> eval, then print the metrics
	$(MAKE) -f pipelines/synthetic.mk all PY=$(abspath $(BIN)/python) ROOT=$(DEMO_ROOT) OUT=$(DEMO_OUT)

compare: setup ## every published method x 3 seeds on the synthetic demo data (tiny model): runs/compare/compare.md
	$(MAKE) -f pipelines/synthetic.mk compare PY=$(abspath $(BIN)/python) ROOT=$(DEMO_ROOT)

bench: setup ## run every stage benchmark and write bench/results.md
	$(BIN)/python -m benchmarks.all --out bench/results.md

lint: setup ## ruff over the package, tests and benchmarks
	$(BIN)/ruff check tvrkit tests benchmarks cli.py

clean: ## remove build outputs, caches and demo data (keeps .venv)
	rm -rf build dist *.egg-info .pytest_cache .ruff_cache data runs bench/out
	find . -name __pycache__ -type d -prune -exec rm -rf {} +

offline-bundle: setup ## wheels + sample shards for a GPU node without internet (bench/out/offline; ARGS=--python-version 3.12)
	$(BIN)/python -m benchmarks.offline_bundle $(ARGS)

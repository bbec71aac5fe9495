# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
# Debian packages the service and its tests use (media tools, soundfont, browser for UI tests, fingerprints,
# redis-server: the fault tests restart their own Redis).
DEB_PACKAGES := ffmpeg fluidsynth fluid-soundfont-gm chromium libchromaprint-tools redis-server
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo serve test lint typecheck pytest system-deps setup clean bench

demo: setup
	$(BIN)/remix demo --host $(HOST) --port $(PORT)

serve: setup
	$(BIN)/remix serve --host $(HOST) --port $(PORT)

test: setup lint typecheck pytest

lint: setup
	$(BIN)/ruff check remix tests benchmarks

typecheck: setup
	$(BIN)/mypy

pytest: setup
	$(BIN)/python -m pytest -q

# Benchmarks print Markdown tables (peers measured in the same run); figures are quoted in the README.
bench: setup
	$(BIN)/python benchmarks/audio_render.py --runs 7
	$(BIN)/python benchmarks/visual_render.py
	$(BIN)/python benchmarks/lora_swap.py --runs 5
	$(BIN)/python benchmarks/live_load.py --fans 500 --seconds 20
	$(BIN)/python benchmarks/ledger_post.py --postings 1000 --runs 5 --workers 8
	$(BIN)/python benchmarks/ledger_post.py --postings 2000 --runs 3 --workers 32
	$(BIN)/python benchmarks/watermark_robustness.py --clips 8 --unmarked 100 --images 8 --unmarked-images 100

setup: system-deps $(VENV)/.installed

system-deps:
	@missing=""; for p in $(DEB_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:$$missing"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# torch is pinned to the CPU build 2.13.0 first so that no other requirement can pull a CUDA build.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q "torch==2.13.0"
	$(BIN)/pip install -q -e ".[dev]"
	# invisible-watermark declares opencv-python (GUI build) and an unpinned torch; its real needs
	# (opencv-python-headless, PyWavelets, numpy) are in pyproject, so it is installed without deps.
	$(BIN)/pip install -q --no-deps "invisible-watermark==0.2.0"
	touch $@

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache

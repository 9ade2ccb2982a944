# paperchat: `make run` serves the bundled listings, `make test` runs every test.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
DATA_DIR ?= .paperchat
LISTINGS ?= data/listings
PORT   ?= 7860

.PHONY: install run ingest test test-fast browser bench eval clean help

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

install: $(VENV)/.installed  ## create the virtualenv and install paperchat with its test tools

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
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

test: install browser  ## run the whole test suite (slow tests included)
	$(BIN)/python -m pytest -q

test-fast: install  ## run the tests not marked slow
	$(BIN)/python -m pytest -q -m "not slow"

eval: ingest  ## score retrieval and answers on the project's question set
	$(BIN)/paperchat eval eval/questions.jsonl --data-dir $(DATA_DIR)

clean:  ## remove the store and caches (not the virtualenv)
	rm -rf $(DATA_DIR) .pytest_cache test-artifacts

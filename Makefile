# Quick start: `make run` installs and runs the bot; `make test` installs and runs the tests.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run test lint bench migrate demo

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed-run: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[postgres]'
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[postgres,test]'
	touch $@ $(VENV)/.installed-run

run: $(VENV)/.installed-run
	$(BIN)/python -m bot

demo: $(VENV)/.installed-run
	$(BIN)/python -m bot demo

migrate: $(VENV)/.installed-run
	$(BIN)/python -m bot migrate

lint: $(VENV)/.installed-test
	$(BIN)/ruff check bot tests bench
	$(BIN)/mypy

# Six workers on two cores: most of an end-to-end test is waiting (for a window to end, a reminder, a retry), and
# worksteal hands the last long tests to idle workers instead of leaving one worker a queue.
test: $(VENV)/.installed-test lint
	$(BIN)/python -m pytest -n 6 --dist worksteal --durations=15

$(VENV)/.installed-bench: pyproject.toml $(VENV)/.installed-test
	$(BIN)/pip install --quiet -e '.[postgres,test,bench]'
	touch $@

bench: $(VENV)/.installed-bench
	$(BIN)/python -m bench

# Two commands matter: `make demo` and `make test`. Both install what they need, idempotently.
PYTHON ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test bench screenshots venv system-deps-test system-deps-demo clean

$(STAMP): pyproject.toml
	@test -x $(VPY) || $(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install --quiet --upgrade pip
	$(VPY) -m pip install --quiet -e '.[test]'
	@touch $@

venv: $(STAMP)

system-deps-test:
	@bash packaging/system-deps.sh test

system-deps-demo:
	@bash packaging/system-deps.sh demo

demo: system-deps-demo venv
	$(VPY) -m sharedclient demo

test: system-deps-test venv
	QT_QPA_PLATFORM=offscreen $(VPY) -m pytest $(PYTEST_ARGS)

bench: system-deps-test venv
	QT_QPA_PLATFORM=offscreen $(VPY) -m tests.benchmarks.run $(BENCH_ARGS)

screenshots: system-deps-test venv
	QT_QPA_PLATFORM=offscreen $(VPY) packaging/screenshots.py resources/screenshots

clean:
	rm -rf $(VENV) build *.egg-info

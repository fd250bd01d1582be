# Two commands matter: `make demo` and `make test`. Both install what they need, idempotently.
PYTHON ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test bench screenshots package venv package-deps system-deps-test system-deps-demo clean

$(STAMP): pyproject.toml
	@test -x $(VPY) || $(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install --quiet --upgrade pip
	$(VPY) -m pip install --quiet -e '.[test]'
	@touch $@

venv: $(STAMP)

# PyInstaller only where it is needed: `make package` and the bundle smoke test in `make test`.
PKG_STAMP := $(VENV)/.package-installed
$(PKG_STAMP): pyproject.toml $(STAMP)
	$(VPY) -m pip install --quiet -e '.[package]'
	@touch $@

package-deps: $(PKG_STAMP)

system-deps-test:
	@bash packaging/system-deps.sh test

system-deps-demo:
	@bash packaging/system-deps.sh demo

demo: system-deps-demo venv
	$(VPY) -m sharedclient demo

test: system-deps-test venv package-deps
	QT_QPA_PLATFORM=offscreen $(VPY) -m pytest $(PYTEST_ARGS)

bench: system-deps-test venv
	QT_QPA_PLATFORM=offscreen $(VPY) -m tests.benchmarks.run $(BENCH_ARGS)

screenshots: system-deps-test venv
	QT_QPA_PLATFORM=offscreen $(VPY) packaging/screenshots.py resources/screenshots

# One folder that runs without Python: dist/sharedclient/sharedclient, plus share/ for desktop integration.
package: system-deps-test venv package-deps
	$(VPY) -m PyInstaller --noconfirm --clean --log-level WARN --distpath dist --workpath build/pyinstaller \
		packaging/sharedclient.spec
	bash packaging/install-desktop-files.sh dist/sharedclient/share
	QT_QPA_PLATFORM=offscreen dist/sharedclient/sharedclient --version

clean:
	rm -rf $(VENV) build dist *.egg-info

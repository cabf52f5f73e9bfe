# Handover: `make run` for a development server, `make test` for the suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: install run run-full test test-js lint format bench bench-forgot clean

$(BIN)/.installed: pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -r requirements.lock
	@touch $@

install: $(BIN)/.installed

# axe-core for the accessibility tests (npm registry, tests only). Without
# npm the a11y tests skip with the reason (they fail under REQUIRE_SERVICES=1).
node_modules/.installed: package.json package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
		npm ci --no-audit --no-fund && touch $@; \
	else \
		echo "npm not found: accessibility tests will be skipped" >&2; \
	fi

test-js: node_modules/.installed

# Development: SQLite, eager tasks, emails printed to the console. MFA is
# optional here so a newcomer can sign in without an authenticator app;
# `make run MFA_POLICY=managers` shows the production policy.
# `make run PORT=8001` serves on another port; links in emails follow it
# unless SITE_URL is set.
PORT ?= 8000
run: export MFA_POLICY ?= none
run: export SITE_URL ?= http://127.0.0.1:$(PORT)
run: install
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py demo_owner
	$(BIN)/python manage.py runserver 127.0.0.1:$(PORT)

# Production-like: needs DATABASE_URL (PostgreSQL) and REDIS_URL; starts
# gunicorn, a Celery worker and beat together (see Procfile and README).
# `make run-full WEB_NODES=2` starts two gunicorn nodes, on PORT and PORT+1
# (8000 and 8001 by default), still with one worker and one beat.
WEB_NODES ?= 1
run-full: install
	@test -n "$$DATABASE_URL" || (echo "Set DATABASE_URL (PostgreSQL) first" >&2; exit 1)
	@test -n "$$REDIS_URL" || (echo "Set REDIS_URL first" >&2; exit 1)
	mkdir -p var
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	$(BIN)/honcho start -p $${PORT:-8000} -c web=$(WEB_NODES),worker=1,beat=1

# The suite runs in TEST_WORKERS processes (pytest-xdist), a test module
# to a process: each has its own PostgreSQL test database (pytest-django's
# _gwN suffix) and its own Redis database (tests/conftest.py).
# `make test TEST_WORKERS=0` runs it in this one process.
TEST_WORKERS ?= 2
test: install
	@$(MAKE) --no-print-directory test-js || echo "npm ci failed: accessibility tests will be skipped" >&2
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python manage.py makemigrations --check --dry-run

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Benchmarks against PostgreSQL + Redis (not part of `make test`). Sizes:
# `make bench BENCH_ARGS="--sizes 100000,1000000"`; see benchmarks/run.py.
bench: install
	$(BIN)/python benchmarks/run.py $(BENCH_ARGS)

# Forgot-password timing, known vs unknown addresses (benchmarks/forgot_timing.py).
bench-forgot: install
	$(BIN)/python benchmarks/forgot_timing.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) var db.sqlite3 node_modules

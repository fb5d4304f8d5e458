# Developer verbs. The README shows two: `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
FLASK  := $(BIN)/flask --app wsgi
HOST   ?= 127.0.0.1
PORT   ?= 5000

.PHONY: run test bench install install-dev assets db seed deploy validate clean

$(VENV)/.installed: requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.txt
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt
	$(BIN)/python -m pip install -q -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

# Front-end packages come from npm (package.json) and are copied into app/static/vendor/.
assets:
	@if [ -f package.json ]; then npm ci --no-audit --no-fund --loglevel=error && node scripts/copy-vendor.mjs; fi

db: install
	$(FLASK) db upgrade

seed: db
	$(FLASK) seed demo

# A broken file is reported and skipped; the good ones still deploy and the server still starts.
deploy: seed
	-$(FLASK) bpmn deploy

validate: install
	$(FLASK) bpmn validate --strict

run: install assets deploy
	$(FLASK) serve --host $(HOST) --port $(PORT)

# The whole suite on SQLite, then again on PostgreSQL when TEST_DATABASE_URL is set (CI sets it
# and requires it).
test: install-dev assets
	env -u TEST_DATABASE_URL $(BIN)/python -m pytest $(PYTEST_ARGS)
	@if [ -n "$$TEST_DATABASE_URL" ]; then \
		echo "== the suite again on PostgreSQL =="; \
		$(BIN)/python -m pytest $(PYTEST_ARGS); \
	elif [ "$$CI" = "true" ]; then \
		echo "CI requires PostgreSQL: TEST_DATABASE_URL is not set" >&2; exit 1; \
	fi

# Every benchmark runs, each on SQLite, or on PostgreSQL when BENCH_DATABASE_URL is set (its public
# schema is dropped; the name must contain bench or test); the million-task one needs PostgreSQL
# (COPY) and runs only then. The dashboard and million benches fail their own lines over target:
# the others still run, and `make bench` exits non-zero at the end.
bench: install-dev
	@status=0; \
	$(BIN)/python bench/engine_bench.py $(BENCH_ARGS) || status=1; \
	$(BIN)/python bench/timer_lag_bench.py || status=1; \
	$(BIN)/python bench/web_bench.py || status=1; \
	$(BIN)/python bench/dashboard_bench.py --quiet-plans || status=1; \
	if [ -n "$$BENCH_DATABASE_URL" ]; then \
		$(BIN)/python bench/million_bench.py || status=1; \
	else \
		echo "== bench/million_bench.py skipped: PostgreSQL only (set BENCH_DATABASE_URL)"; \
	fi; \
	exit $$status

clean:
	rm -rf $(VENV) node_modules app/static/vendor

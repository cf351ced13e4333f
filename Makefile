# Every target creates the virtualenv itself when it is missing or requirements.txt changed.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

CHROMIUM := /usr/bin/chromium
CHART_JS := /usr/share/javascript/chart.js/chart.min.js

.PHONY: run test lint format run-stack bench chaos clean

$(BIN)/.installed: requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $@

# The one-command demo: embedded SQLite and in-process cache unless DATABASE_URL / REDIS_URL say otherwise.
run: export DJANGO_DEBUG ?= true
run: $(BIN)/.installed $(CHART_JS)
	$(BIN)/python manage.py migrate --no-input
	$(BIN)/python manage.py seed_demo
	$(BIN)/python manage.py demo_client --url http://$(HOST):$(PORT)
	$(BIN)/python manage.py runserver $(HOST):$(PORT)

# The production-shaped stack on this machine: gunicorn, a Celery worker and beat, against
# PostgreSQL and Redis (DATABASE_URL / REDIS_URL; the defaults are the local services).
run-stack: export DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/english_tutor
run-stack: export REDIS_URL ?= redis://127.0.0.1:6379/0
run-stack: export DJANGO_SECRET_KEY ?= $(shell $(PYTHON) -c 'import secrets; print(secrets.token_urlsafe(50))')
run-stack: $(BIN)/.installed $(CHART_JS)
	$(BIN)/python manage.py create_database
	$(BIN)/python manage.py migrate --no-input
	$(BIN)/python manage.py seed_demo
	$(BIN)/python manage.py collectstatic --no-input --verbosity 0
	trap 'kill 0' EXIT INT TERM; \
	$(BIN)/celery -A english_tutor worker --loglevel INFO --concurrency 1 & \
	$(BIN)/celery -A english_tutor beat --loglevel INFO --schedule $(VENV)/celerybeat-schedule & \
	GUNICORN_BIND=$(HOST):$(PORT) GUNICORN_ACCESS_LOG=- $(BIN)/gunicorn -c python:english_tutor.gunicorn english_tutor.wsgi:application

# The browser test drives Debian's Chromium (Playwright never downloads a browser here).
$(CHROMIUM):
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver

# The chart of a learner's errors in the admin draws with Debian's Chart.js, served as a static file (no CDN).
$(CHART_JS):
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libjs-chart.js

# The benchmark (README, "Performance"): BENCH_ARGS="--users 10000 --errors 1000" for the large seed.
bench: $(BIN)/.installed /usr/bin/wrk
	$(BIN)/python -m bench.run $(BENCH_ARGS)

/usr/bin/wrk:
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk

# The failure battery (chaos/run.py): private PostgreSQL and Redis servers, the production processes, six ways
# of breaking the pipeline under load (a 5-minute PostgreSQL outage among them). CHAOS_ARGS=--quick for development.
chaos: $(BIN)/.installed
	$(BIN)/python -m chaos.run $(CHAOS_ARGS)

test: $(BIN)/.installed $(CHROMIUM) $(CHART_JS)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	DJANGO_DEBUG=true $(BIN)/python manage.py check_bank --fixture tutor/fixtures/exercises.json
	$(BIN)/pytest

format: $(BIN)/.installed
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) staticfiles .pytest_cache

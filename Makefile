# Vigil's two commands: `make run` (try it) and `make test` (the whole suite).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev
WORKERS ?= 2

.PHONY: run test install install-dev messages system-packages env lint check worker serve clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): requirements.txt pyproject.toml | $(PY)
	$(BIN)/pip install --quiet -r requirements.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

$(DEV_STAMP): requirements-dev.txt $(STAMP)
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

install: $(STAMP)
install-dev: $(DEV_STAMP)

# gettext (msgfmt) for the translations; Chromium for the browser tests. Installed only when
# missing, with apt-get (Debian/Ubuntu); elsewhere install them with your package manager.
system-packages:
	@missing=""; \
	command -v msgfmt >/dev/null 2>&1 || missing="$$missing gettext"; \
	if [ "$(WITH_BROWSER)" = "1" ] && [ ! -x /usr/bin/chromium ]; then missing="$$missing chromium"; fi; \
	if [ -n "$$missing" ]; then \
	  echo "Installing system packages:$$missing"; \
	  if command -v apt-get >/dev/null 2>&1; then \
	    SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	    $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq $$missing; \
	  else echo "Please install:$$missing" >&2; exit 1; fi; \
	fi

messages: system-packages $(STAMP)
	cd src/vigil && VIGIL_ALLOW_INSECURE_DEFAULTS=1 ../../$(PY) ../../manage.py compilemessages -v0

# A local .env with generated secrets, so the demo needs no manual step (kept out of git).
.env: | $(STAMP)
	@echo "# Local secrets for \`make run\`; back up VIGIL_ENCRYPTION_KEYS with the database." > .env
	@echo "DEBUG=1" >> .env
	@echo "SECRET_KEY=$$($(PY) -c 'import secrets; print(secrets.token_urlsafe(50))')" >> .env
	@echo "VIGIL_ENCRYPTION_KEYS=$$($(PY) -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')" >> .env
	@echo "Wrote .env with new secrets."

run: $(STAMP) messages .env
	$(PY) manage.py migrate --noinput -v0
	$(PY) manage.py vigil demo --scale small --if-empty
	@echo "Vigil is starting on http://127.0.0.1:8000 (background worker included). Ctrl-C stops both."
	@trap 'kill 0' INT TERM EXIT; \
	$(PY) manage.py db_worker --no-startup-delay & \
	$(PY) manage.py runserver 127.0.0.1:8000

test: $(DEV_STAMP)
	@$(MAKE) --no-print-directory messages WITH_BROWSER=1
	$(BIN)/pytest -n $(WORKERS) $(PYTEST_ARGS)

lint: $(DEV_STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy src

clean:
	rm -rf $(VENV) staticfiles

# Vigil's two commands: `make run` (try it) and `make test` (the whole suite).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev
WORKERS ?= 2

# pip-compile, for `make lock`, lives in a venv of its own so that it never mixes with Vigil's.
TOOLS := .venv-tools
PIP_COMPILE := $(TOOLS)/bin/pip-compile
PIP_TOOLS_PINS := pip==26.3 pip-tools==7.6.2
# How the locks are compiled; .ci/check-lock runs this same `make lock` to find a stale lock.
LOCK_FLAGS := --quiet --generate-hashes --no-reuse-hashes --allow-unsafe --strip-extras \
  --no-emit-index-url --no-emit-find-links $(if $(UPGRADE),--upgrade)

.PHONY: run test install install-dev messages system-packages env lint check worker serve clean \
  lock lock-check

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Exactly the releases in the locks, each checked against its hash; then Vigil itself, without
# letting pip pick any other version of a dependency.
$(STAMP): requirements.lock pyproject.toml | $(PY)
	$(BIN)/pip install --quiet --require-hashes -r requirements.lock
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

$(DEV_STAMP): requirements-dev.lock $(STAMP)
	$(BIN)/pip install --quiet --require-hashes -r requirements-dev.lock
	touch $@

install: $(STAMP)
install-dev: $(DEV_STAMP)

$(PIP_COMPILE):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet $(PIP_TOOLS_PINS)

# Re-resolve the locks from pyproject.toml's ranges, keeping every pin that still fits them;
# `make lock UPGRADE=1` moves every pin to the newest release the ranges allow. The dev lock is
# constrained by the runtime lock, so both install the same version of a shared dependency.
lock: $(PIP_COMPILE)
	CUSTOM_COMPILE_COMMAND="make lock" $(PIP_COMPILE) $(LOCK_FLAGS) \
	  --output-file=requirements.lock pyproject.toml
	CUSTOM_COMPILE_COMMAND="make lock" $(PIP_COMPILE) $(LOCK_FLAGS) --extra dev \
	  -c requirements.lock --output-file=requirements-dev.lock pyproject.toml

# Fails when the locks no longer match pyproject.toml (CI runs it).
lock-check:
	$(PYTHON) .ci/check-lock

# gettext (msgfmt) for the translations; Pango, HarfBuzz and a font for WeasyPrint's PDFs (the
# debriefing note); Chromium for the browser tests. Installed only when missing, with apt-get
# (Debian/Ubuntu); elsewhere install them with your package manager.
system-packages:
	@missing=""; \
	command -v msgfmt >/dev/null 2>&1 || missing="$$missing gettext"; \
	ldconfig=$$(command -v ldconfig || echo /sbin/ldconfig); \
	if [ -x "$$ldconfig" ]; then \
	  for lib in libpango-1.0.so.0:libpango-1.0-0 libpangoft2-1.0.so.0:libpangoft2-1.0-0 \
	    libharfbuzz-subset.so.0:libharfbuzz-subset0; do \
	    "$$ldconfig" -p | grep -q "$${lib%%:*}" || missing="$$missing $${lib#*:}"; \
	  done; \
	  { fc-list 2>/dev/null | grep -q . || [ -d /usr/share/fonts/truetype/dejavu ]; } \
	    || missing="$$missing fonts-dejavu-core"; \
	fi; \
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
# DEBUG stays off: a newcomer sees Vigil's own error pages, as in production, and WhiteNoise
# serves the static files. Set DEBUG=1 in .env for Django's technical error pages.
.env: | $(STAMP)
	@echo "# Local secrets for \`make run\`; back up VIGIL_ENCRYPTION_KEYS with the database." > .env
	@echo "DEBUG=0" >> .env
	@echo "SECRET_KEY=$$($(PY) -c 'import secrets; print(secrets.token_urlsafe(50))')" >> .env
	@echo "VIGIL_ENCRYPTION_KEYS=$$($(PY) -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')" >> .env
	@echo "Wrote .env with new secrets."

run: $(STAMP) messages .env
	$(PY) manage.py migrate --noinput -v0
	$(PY) manage.py collectstatic --noinput -v0
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
	rm -rf $(VENV) $(TOOLS) staticfiles

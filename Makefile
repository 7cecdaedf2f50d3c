# Two set-up commands: `make run` (the local stack) and `make test`.
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: test lint unit package cfn-lint deploy security bench run demo clean screenshots

$(STAMP): requirements.txt requirements-dev.txt relay/requirements.txt
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "need $(PYTHON) on PATH"; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $(STAMP)

# loadgroup: the browser tests (xdist_group "browser") run together on one worker, so
# their one local stack starts once.
test: $(STAMP) lint
	@bash .ci/chromium
	@bash .ci/axe
	$(PY) -m pytest -n 2 --dist loadgroup

# The inbox in real Chromium, its screenshots kept in docs/screenshots/ (inbox.png,
# detail.png, failed.png; the tests take them anyway, into a tmp dir).
screenshots: $(STAMP)
	@bash .ci/chromium
	@bash .ci/axe
	SCREENSHOTS_DIR=$(CURDIR)/docs/screenshots $(PY) -m pytest -m browser tests/browser

lint: $(STAMP)
	$(VENV)/bin/ruff check .

# The deployable template for STAGE (dev or prod): Chalice's functions and API merged with
# infra/ (its fragments joined by infra/template.py), finished by infra/package.py.
STAGE ?= dev
package: $(STAMP)
	$(PY) -m infra.package --stage $(STAGE) build/package

cfn-lint: package
	$(PY) -m infra.package --stage prod build/package-prod
	$(VENV)/bin/cfn-lint build/package/sam.json build/package-prod/sam.json

# One command to AWS (docs/deploy.md): secrets checked (CREATE_SECRETS=1 creates missing
# ones), packaged, uploaded, a change set created and executed, the outputs printed.
# Parameters: COMPANY_ID, PROCORE_CLIENT_ID, CONNECTOR_USER_ID, ALARM_EMAIL (first deploy;
# later ones keep the previous values), optional NOTIFY_FROM_EMAIL, DEPLOY_BUCKET,
# DEPLOY_ARGS (e.g. --review to stop at the change set).
deploy: $(STAMP)
	$(PY) -m infra.deploy --stage $(STAGE) $(if $(CREATE_SECRETS),--create-secrets) $(DEPLOY_ARGS)

SCAN       := .venv-scan
SCAN_STAMP := $(SCAN)/.installed
$(SCAN_STAMP): requirements-scan.txt
	@test -x $(SCAN)/bin/python || $(PYTHON) -m venv $(SCAN)
	$(SCAN)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-scan.txt
	@touch $(SCAN_STAMP)

# Security: bandit over our code, known vulnerabilities in the installed pins (pip-audit,
# and PyPI's project pages where release pages are out of reach: .ci/audit_pins.py), and
# checkov over the packaged template, each clean or waived in writing (docs/security.md).
security: $(STAMP) $(SCAN_STAMP) package
	$(SCAN)/bin/bandit -q -r app.py chalicelib relay infra
	$(SCAN)/bin/pip-audit --progress-spinner off --path $$($(PY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
	$(PY) .ci/audit_pins.py
	$(SCAN)/bin/python .ci/infra_scan.py build/package/sam.json

bench: $(STAMP)
	$(PY) -m bench

clean:
	rm -rf build .pytest_cache

# The whole connector on 127.0.0.1, no AWS account (Ctrl-C stops everything).
run: $(STAMP)
	$(PY) -m devstack run

# The main story over real HTTP against the running stack (or one it starts).
demo: $(STAMP)
	$(PY) -m devstack demo

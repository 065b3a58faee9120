# Two commands: `make gameday` (the game day on localcloud, writes reports/) and `make test`
# (the suite's own tests, ruff, mypy). Each sets itself up: .venv, pinned requirements, Debian packages.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.requirements.stamp
# Chromium prints each run's report.pdf (without it the run still writes every other report and says so).
DEBIAN_PACKAGES := haproxy unbound wrk chromium
# The suite's own tests check the HTML report in headless Chromium and render report.pdf's pages (poppler-utils).
TEST_DEBIAN_PACKAGES := chromium poppler-utils
# Only the benchmarks compare gameday's probes with curl and dig loops (benchmarks/tools_compare.py).
BENCH_DEBIAN_PACKAGES := curl bind9-dnsutils

# Extra flags for the game day, e.g. `make gameday GAMEDAY_ARGS="--profile realistic"`.
GAMEDAY_ARGS ?=
BENCH_ARGS ?=

.PHONY: gameday test lint typecheck cfnlint unit benchmarks setup debian debian-test debian-bench debian-install clean

# Six children at a time on two cores: each localcloud mostly waits on simulated time (the game day uses about
# 100 s of CPU), and --split auto cuts static-ip-haproxy's five scenarios (about 160 s in a row) into three
# children of their own, timed by the last run: about 91 s of game day here (89-92 s, 10 runs) instead of 162-185 s.
gameday: setup
	$(PY) -m gameday run --backend local --profile fast --jobs 6 --split auto $(GAMEDAY_ARGS)

# Four workers on two cores: most integration tests wait on simulated time. `--dist loadscope` uses
# tests/conftest.py's scheduler: a module's tests stay on one worker (its localcloud and deployed stack start
# once), the front-door game days each go alone, and the longest go first by tests/durations.json (refresh it
# with `python -m tests.durations JUNIT.xml` after a run with --junitxml). Six or eight workers end sooner
# (pytest 425 s and 377 s against about 600 s) but keep the cores busy enough that a timing-sensitive test
# fails in most runs (a different one each time); a red run costs more than the minutes. ruff, mypy and cfn-lint
# run beside the tests (their output comes when each ends); either failing fails `make test`. The tests marked
# `timing` (scheduling precision in milliseconds) run last, alone, once the two cores are free again.
test: setup debian-test
	@$(MAKE) --no-print-directory -j3 --output-sync=target lint typecheck cfnlint & checks=$$!; \
	$(PY) -m pytest -q -n 4 --dist loadscope --durations=12 -m "not timing" tests; tests=$$?; \
	wait $$checks; checked=$$?; \
	$(PY) -m pytest -q -m timing tests || tests=$$?; \
	if [ $$checked -ne 0 ]; then echo "make test: ruff, mypy or cfn-lint failed (see above)" >&2; fi; \
	exit $$(( tests != 0 ? tests : checked ))

lint: $(STAMP)
	$(VENV)/bin/ruff check gameday localcloud fixtures scenarios loadtest tests benchmarks conftest.py
	$(VENV)/bin/check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml

# Every reference stack must be valid CloudFormation (a user may deploy it by hand), and so must deploy/.
cfnlint: $(STAMP)
	$(VENV)/bin/cfn-lint stacks/*/*.yaml deploy/*.yaml

typecheck: $(STAMP)
	$(VENV)/bin/mypy gameday localcloud fixtures scenarios loadtest conftest.py

# Every benchmark, then the side-by-side table; `make benchmarks BENCH_ARGS=--quick` runs only the cheap ones.
benchmarks: setup debian-bench
	$(PY) -m benchmarks.run_all $(BENCH_ARGS)

setup: $(STAMP) debian

$(STAMP): requirements.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	@touch $@

# Debian packages the game day runs for real. Installed when missing; their services are kept
# from starting (policy-rc.d) because localcloud starts its own instances and stops them after.
debian:
	@$(MAKE) --no-print-directory debian-install PACKAGES="$(DEBIAN_PACKAGES)"

debian-test:
	@$(MAKE) --no-print-directory debian-install PACKAGES="$(TEST_DEBIAN_PACKAGES)"

debian-bench:
	@$(MAKE) --no-print-directory debian-install PACKAGES="$(BENCH_DEBIAN_PACKAGES)"

debian-install:
	@missing=""; for p in $(PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" != "0" ]; then \
	    echo "error: Debian packages missing:$$missing; run as root or: sudo apt-get install -y$$missing" >&2; exit 1; \
	  fi; \
	  echo "installing Debian packages:$$missing"; \
	  saved=""; if [ -e /usr/sbin/policy-rc.d ]; then saved=$$(mktemp); cp -p /usr/sbin/policy-rc.d $$saved; fi; \
	  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null); rc=$$?; \
	  if [ -n "$$saved" ]; then mv -f $$saved /usr/sbin/policy-rc.d; else rm -f /usr/sbin/policy-rc.d; fi; \
	  if [ $$rc -ne 0 ]; then echo "error: apt-get install$$missing failed (exit $$rc)" >&2; exit 1; fi; \
	fi

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache

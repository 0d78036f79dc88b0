#!/usr/bin/env bash
# Draws the pictures of docs/tutorial.md into docs/img/tutorial/: for each
# example, the page of `giltrace view` (its report and its timeline), the
# flame graph and the compare chart, from the fixture's recorded trace and
# a compare run, in headless Chromium (Debian's chromium and
# chromium-driver; ./test.sh installs them). Takes a few minutes. Review
# the pictures (git diff --stat docs/img/tutorial) before committing them.
set -euo pipefail
cd "$(dirname "$0")/.."
go test ./cmd/giltrace -run '^TestTutorialPictures$' -update -count=1 -timeout 30m -v | grep -E '^(=== RUN|--- |    tutorial_test|ok|FAIL)' || true
ls -l docs/img/tutorial

#!/usr/bin/env bash
# Installs what the tests need on a fresh machine (a venv with the project and its test tools; the tests
# make the reference server's own venv on first use) and runs lint and the whole suite.
set -euo pipefail
source "$(dirname "$0")/setup-venv.sh" test
.venv/bin/ruff check src tests bench examples
.venv/bin/ruff format --check src tests bench examples
.venv/bin/pytest "$@"

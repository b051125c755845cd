#!/usr/bin/env bash
# Installs what the tests need on a fresh machine (a venv with the project and its test tools; the tests
# make the reference server's own venv on first use) and runs lint and the whole suite.
set -euo pipefail
source "$(dirname "$0")/setup-venv.sh" test
# The workspace store suite also runs against a real PostgreSQL server, started by the tests themselves.
if ! command -v initdb >/dev/null && ! compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; then
    if [ "$(id -u)" -eq 0 ]; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    else
        echo "PostgreSQL is not installed: its store tests will be skipped (sudo apt-get install postgresql)" >&2
    fi
fi
.venv/bin/ruff check src tests bench examples
.venv/bin/ruff format --check src tests bench examples
.venv/bin/pytest "$@"

#!/usr/bin/env bash
# Benchmark mldeploy's scoring server against azmlinfsrv: bash bench/run.sh [--duration S] [--connections N] [--quick] [--output PATH]
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
    .venv/bin/pip install -e '.[test]'
fi
if ! command -v wrk >/dev/null; then
    $([ "$(id -u)" -eq 0 ] || echo sudo) apt-get install -y wrk
fi
exec .venv/bin/python bench/compare.py "$@"

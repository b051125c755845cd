#!/usr/bin/env bash
# Installs what the tests need on a fresh machine (a venv with the project and its test tools; PostgreSQL,
# the Docker engine and mmdebstrap from Debian; the tests make the reference server's own venv on first use)
# and runs lint and the whole suite.
set -euo pipefail
source "$(dirname "$0")/setup-venv.sh" test

apt_install() {  # Debian packages, as root; the package lists are refreshed once
    if [ "$(id -u)" -ne 0 ]; then
        echo "not root: cannot install $*; the tests that need them are skipped" >&2
        return 0
    fi
    [ -n "${apt_updated:-}" ] || { apt-get update -qq; apt_updated=1; }
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# The workspace store suite also runs against a real PostgreSQL server, started by the tests themselves.
command -v initdb >/dev/null || compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || apt_install postgresql
# The Docker suite uses the real engine, started here when none answers. Containers only ever run with
# --network host, so the engine needs no bridge and no iptables.
{ command -v dockerd >/dev/null && command -v mmdebstrap >/dev/null; } || apt_install docker.io mmdebstrap
# The console's browser suite drives Debian's Chromium with Playwright (no browser is downloaded).
command -v chromium >/dev/null || apt_install chromium
# The Kubernetes image push is tested against a real registry (Debian's docker-registry), run on 127.0.0.1.
command -v docker-registry >/dev/null || apt_install docker-registry
# The soak test drives its load with wrk, as the benchmarks do.
command -v wrk >/dev/null || apt_install wrk
if [ "$(id -u)" -eq 0 ] && ! docker info >/dev/null 2>&1; then
    (dockerd --bridge=none --iptables=false >/tmp/mldeploy-dockerd.log 2>&1 &)
    for _ in $(seq 60); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
fi

# The front's request path compiled with mypyc (a C compiler; Python's headers come with this interpreter): the
# servers the tests start run it, as a user's do once built. Tests of the Python front set MLDEPLOY_PURE_PYTHON.
command -v gcc >/dev/null || apt_install gcc
.venv/bin/python -m mldeploy.scoring.compiled

.venv/bin/ruff check src tests bench examples
.venv/bin/ruff format --check src tests bench examples
.venv/bin/pytest "$@"

# Sourced by demo.sh and test.sh: makes .venv (Python 3.11+) and installs the project with the given extras.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
python_bin=$(command -v python3.11 || command -v python3)
"$python_bin" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {
    echo "mldeploy needs Python 3.11 or newer; found $("$python_bin" --version)" >&2
    exit 1
}
[ -x .venv/bin/python ] || "$python_bin" -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[$1]"

#!/usr/bin/env bash
# The demo: train a small model, serve an unchanged Azure ML score.py with mldeploy, score it, stop.
set -euo pipefail
source "$(dirname "$0")/setup-venv.sh" demo
app_root=$(mktemp -d)
trap 'kill "$server" 2>/dev/null || true; rm -rf "$app_root"' EXIT
.venv/bin/python examples/diabetes/train.py "$app_root"
cp tests/fixtures/scripts/seed_predict.py "$app_root/score.py"  # the seed's own score.py, unchanged
port=$(.venv/bin/python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
(cd "$app_root" && exec "$OLDPWD/.venv/bin/mldeploy" serve score.py --model-dir azureml-models/diabetes/1 --port "$port") &
server=$!
.venv/bin/python examples/diabetes/request.py "http://127.0.0.1:$port"

#!/usr/bin/env bash
# The demo, the v1 workflow end to end: train a small model, register it, build its environment, deploy the
# seed's unchanged score.py as a local service, score the seed's test_sample, print the answer, clean up.
set -euo pipefail
source "$(dirname "$0")/setup-venv.sh" demo
demo=$(mktemp -d)
mldeploy() { .venv/bin/mldeploy --workspace "$demo/workspace" "$@"; }
trap 'mldeploy service delete diabetes >/dev/null 2>&1 || true; rm -rf "$demo"' EXIT
.venv/bin/python examples/diabetes/train.py "$demo"
mldeploy model register "$demo/azureml-models/diabetes/1/model.pkl" --name diabetes
cp tests/fixtures/scripts/seed_predict.py "$demo/score.py"  # the seed's own score.py, unchanged
mldeploy deploy diabetes --model diabetes --entry-script "$demo/score.py" --conda-file examples/diabetes/myenv.yml
mldeploy service run diabetes '{"data": [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10], [10, 9, 8, 7, 6, 5, 4, 3, 2, 1]]}'

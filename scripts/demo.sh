#!/usr/bin/env bash
# The demo, the v1 workflow end to end: train a small model, register it, build its environment, deploy the
# seed's unchanged score.py as a local service, score the seed's test_sample, print the answer, clean up.
# Each step says what it does; the commands' own output follows it.
set -euo pipefail
source "$(dirname "$0")/setup-venv.sh" demo
demo=$(mktemp -d)
mldeploy() { .venv/bin/mldeploy --workspace "$demo/workspace" "$@"; }
say() { printf '\n== %s\n' "$*"; }
clean_up() {
    say "5/5 Cleaning up"
    if mldeploy service delete diabetes >/dev/null 2>&1; then echo "service diabetes stopped and deleted"; fi
    rm -rf "$demo"
    echo "temporary workspace $demo/workspace removed (model, environment, service files)"
}
trap clean_up EXIT

say "1/5 Training a small scikit-learn model (the diabetes data set) in $demo"
.venv/bin/python examples/diabetes/train.py "$demo"

say "2/5 Registering it as model 'diabetes' in a temporary workspace, $demo/workspace"
mldeploy model register "$demo/azureml-models/diabetes/1/model.pkl" --name diabetes --output plain

say "3/5 Deploying the seed's score.py, unchanged, as the local service 'diabetes', with the environment of" \
    "examples/diabetes/myenv.yml"
cp tests/fixtures/scripts/seed_predict.py "$demo/score.py"
{ mldeploy deploy diabetes --model diabetes --entry-script "$demo/score.py" \
    --conda-file examples/diabetes/myenv.yml 2>&1 >&3 | tee "$demo/deploy.log" >&2; } 3>&1
if grep -q "reusing environment" "$demo/deploy.log"; then
    echo "environment 'project_environment' (its name in myenv.yml) reused: an identical one was built before"
else
    echo "environment 'project_environment' (its name in myenv.yml) built (packages from uv's cache when present)"
fi

say "4/5 Scoring the seed's test_sample (two rows of ten features)"
answer=$(mldeploy service run diabetes '{"data": [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10], [10, 9, 8, 7, 6, 5, 4, 3, 2, 1]]}')
echo "$answer"
echo "The answer is a JSON string holding JSON (hence the quotes and the \\\"): the seed's run() returns"
echo "json.dumps({\"result\": ...}), and the server encodes what run() returns as JSON once, as Azure ML's does."
decoded=$(.venv/bin/python -c 'import json, sys; print(json.dumps(json.loads(json.loads(sys.argv[1]))))' "$answer")
echo "Decoded twice (json.loads of json.loads), it is: $decoded"

"""Seconds to a verdict on the two real-script fixtures, ours against the reference, and seconds per
`mldeploy check`: ``python -m tests.legacy.timings [ROUNDS]`` (numbers for docs/troubleshooting/legacy.md).

Both servers' workers run on the same libraries (the torch venv, which holds the reference too); the runs
alternate, and each line gives the median and the range over the rounds.
"""

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from tests.fixtures.models import build_app_root, model_dir_for
from tests.legacy.models import torch_full_model
from tests.legacy.torch_env import torch_python
from tests.support.servers import LOOPBACK_LAUNCHER, SCRIPTS, free_port

SOURCE = str(Path(__file__).resolve().parents[2] / "src")
REAL_SCRIPTS = {"legacy_sklearn_externals.py": model_dir_for(1), "legacy_torch_full_model.py": "azureml-models/t/1"}


def _seconds(command: list[str], root: Path, environment: dict[str, str]) -> float:
    clean = {key: value for key, value in os.environ.items() if not key.startswith(("AZUREML_", "AML_"))}
    started = time.monotonic()
    done = subprocess.run(command, cwd=root, env={**clean, **environment}, capture_output=True, timeout=300)
    elapsed = time.monotonic() - started
    if done.returncode not in (1, 3):
        raise RuntimeError(f"{command[:4]} ended with {done.returncode}, not a refusal")
    return elapsed


def _commands(python: Path, root: Path, script: str, model_dir: str) -> dict[str, Callable[[], float]]:
    config = root / f"{script}.json"
    settings = {"entry_script": str(SCRIPTS / script), "app_root": str(root), "model_dir": model_dir,
                "port": free_port(), "python": str(python)}  # fmt: skip
    config.write_text(json.dumps(settings))
    reference = [str(python), str(LOOPBACK_LAUNCHER), "--entry_script", str(SCRIPTS / script), "--port",
                 str(free_port())]  # fmt: skip
    return {
        "ours": lambda: _seconds([sys.executable, "-m", "mldeploy.scoring", str(config)], root, {"PYTHONPATH": SOURCE}),
        "reference": lambda: _seconds(reference, root, {"AZUREML_MODEL_DIR": model_dir}),
    }


def _line(label: str, values: list[float]) -> str:
    return f"{label:60} median {statistics.median(values):5.2f} s  (min {min(values):.2f}, max {max(values):.2f})"


def main(rounds: int) -> None:
    python = torch_python()
    with tempfile.TemporaryDirectory() as folder:
        root = build_app_root(Path(folder))
        torch_full_model(python, root / REAL_SCRIPTS["legacy_torch_full_model.py"])
        runs = {(script, who): run for script, model_dir in REAL_SCRIPTS.items()
                for who, run in _commands(python, root, script, model_dir).items()}  # fmt: skip
        check = [sys.executable, "-m", "mldeploy", "--workspace", str(root / "ws"), "check", "--model-dir",
                 model_dir_for(1)]  # fmt: skip
        checks = {
            name: (lambda name=name: _seconds([*check, str(SCRIPTS / name)], root, {}))
            for name in ("legacy_sklearn_externals.py", "legacy_numpy_alias.py", "legacy_missing_package.py")
        }
        seconds: dict[str, list[float]] = {}
        for _ in range(rounds):
            for (script, who), run in runs.items():
                seconds.setdefault(f"verdict {script}, {who}", []).append(run())
            for name, run in checks.items():
                seconds.setdefault(f"mldeploy check {name}", []).append(run())
    for label, values in seconds.items():
        print(_line(label, values))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)

"""The reference server, ``azmlinfsrv`` (azureml-inference-server-http), in its own cached virtual environment.

It gets the same numpy, pandas, scikit-learn and inference-schema versions as the environment running
the tests, so both servers run the fixture scripts on the same libraries.
"""

import fcntl
import hashlib
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

REFERENCE = "azureml-inference-server-http==1.5.1"
SHARED_LIBRARIES = ("numpy", "pandas", "scikit-learn", "joblib", "inference-schema")
CACHE = Path.home() / ".cache" / "mldeploy-tests"


def _requirements() -> list[str]:
    return [REFERENCE, *(f"{name}=={version(name)}" for name in SHARED_LIBRARIES)]


def reference_venv() -> Path:
    """Path of ``azmlinfsrv``, creating its venv on first use (a few minutes, then cached)."""
    return cached_venv("reference", _requirements()) / "bin" / "azmlinfsrv"


def cached_venv(prefix: str, requirements: list[str]) -> Path:
    """A venv holding ``requirements``, made on first use and cached by their hash (safe across processes);
    RuntimeError with pip's own error lines when they cannot be installed."""
    key = hashlib.sha256("\n".join([sys.version, *requirements]).encode()).hexdigest()[:12]
    venv = CACHE / f"{prefix}-{key}"
    done = venv / ".complete"
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / f"{prefix}-{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
            command = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", *requirements]
            installed = subprocess.run(command, capture_output=True, text=True)
            if installed.returncode:
                errors = [line for line in installed.stderr.splitlines() if line.startswith("ERROR")]
                raise RuntimeError(f"pip install {' '.join(requirements)} failed: {' '.join(errors[-2:])}")
            done.write_text("\n".join(requirements))
    return venv

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
    requirements = _requirements()
    key = hashlib.sha256("\n".join([sys.version, *requirements]).encode()).hexdigest()[:12]
    venv = CACHE / f"reference-{key}"
    executable = venv / "bin" / "azmlinfsrv"
    done = venv / ".complete"
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / f"reference-{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
            subprocess.run(
                [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", *requirements],
                check=True,
            )
            done.write_text("\n".join(requirements))
    return executable

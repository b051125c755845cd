"""One virtual environment made with uv, the host's pip settings and uv's cache: the user's packages, the
scoring runtime's dependencies and a copy of mldeploy's scoring package; then checked by importing its
packages in its own interpreter (mldeploy.scoring.environment_check, one process for all of them).
"""

import json
import os
import shutil
import subprocess
from importlib.metadata import requires
from pathlib import Path
from typing import Any

from packaging.requirements import Requirement

from ..errors import BuildError
from .interpreters import Interpreter
from .registry import uv_environment

# the scoring runtime's dependencies (mldeploy's own, installed into every environment) and what each is for
RUNTIME_PURPOSES = {
    "httptools": "its HTTP parser",
    "uvloop": "its event loop",
    "werkzeug": "the request object of @rawhttp scripts",
    "prometheus-client": "its /metrics endpoint",
    "inference-schema": "the @input_schema/@output_schema decorators and /swagger.json",
}
PACKAGE_ROOT = Path(__file__).resolve().parent.parent


def runtime_requirements() -> list[str]:
    """The scoring runtime's dependencies, as mldeploy itself declares them."""
    declared = [Requirement(line) for line in requires("mldeploy") or []]
    return [str(req) for req in declared if req.name in RUNTIME_PURPOSES and "extra" not in str(req.marker or "")]


def python_of(env: Path) -> Path:
    return env / "bin" / "python"


def run(command: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, env=env, check=False)


def _uv() -> str:
    from uv import find_uv_bin

    return find_uv_bin()


def copy_runtime(destination: Path) -> None:
    """Copy mldeploy's scoring package (and nothing of the control plane) into ``destination``/mldeploy."""
    target = destination / "mldeploy"
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    shutil.copy2(PACKAGE_ROOT / "__init__.py", target / "__init__.py")
    shutil.copytree(PACKAGE_ROOT / "scoring", target / "scoring", ignore=shutil.ignore_patterns("__pycache__"))


def install_runtime(env: Path) -> None:
    """The runtime goes into the environment's site-packages (refreshed at every build: it is small)."""
    copy_runtime(next(env.glob("lib/python3*/site-packages")))


def make(folder: Path, interpreter: Interpreter, requirements: list[str]) -> subprocess.CompletedProcess[str]:
    """A virtual environment of ``interpreter`` in ``folder`` with ``requirements`` and the scoring runtime;
    uv's answer to the install (its return code says whether it worked)."""
    uv_env = {**os.environ, **uv_environment()}
    created = run([_uv(), "venv", "--quiet", "--python", interpreter.path, str(folder)], uv_env)
    if created.returncode != 0:
        raise BuildError(f"Creating the environment failed: {created.stderr.strip()}")
    installed = run([_uv(), "pip", "install", "--python", str(python_of(folder)), *requirements], uv_env)
    if installed.returncode == 0:
        install_runtime(folder)
    return installed


def import_failure(env: Path, requirements: list[str]) -> dict[str, Any] | None:
    """Import the packages ``requirements`` name in ``env``'s interpreter: None when all import, else what
    failed (environment_check's report; ``paragraph`` explains it)."""
    checked = run([str(python_of(env)), "-m", "mldeploy.scoring.environment_check", "--json", *requirements])
    lines = checked.stdout.strip().splitlines()
    if checked.returncode == 0:
        return None
    try:
        return dict(json.loads(lines[-1]))
    except (IndexError, ValueError):  # the interpreter itself died while importing (a crash in compiled code)
        tried = [line for line in checked.stderr.splitlines() if line.startswith("importing ")]
        module = tried[-1].removeprefix("importing ") if tried else "the packages"
        return {
            "pin": None,
            "paragraph": f"`import {module}` crashed the interpreter (exit code {checked.returncode}); pin another "
            f"version of the package that provides {module}, then build again.",
        }

"""Build an environment spec into ``envs/<hash>`` with uv, once; later builds of the same spec reuse it.

The environment gets the user's packages, the scoring runtime's few dependencies, and a copy of
mldeploy's scoring package (``mldeploy.scoring``, which never imports the control plane).
"""

import os
import platform
import re
import shutil
import subprocess
from collections.abc import Callable
from importlib.metadata import requires
from pathlib import Path

from packaging.requirements import Requirement
from packaging.version import InvalidVersion, Version

from ..errors import BuildError
from .interpreters import Interpreter, find
from .registry import uv_environment
from .spec import EnvironmentSpec

RUNTIME_PACKAGES = {"uvicorn", "httptools", "uvloop", "werkzeug", "prometheus-client", "inference-schema"}
PACKAGE_ROOT = Path(__file__).resolve().parent.parent
COMPLETE = ".complete"
Progress = Callable[[str], None]


def runtime_requirements() -> list[str]:
    """The scoring runtime's dependencies, as mldeploy itself declares them."""
    declared = [Requirement(line) for line in requires("mldeploy") or []]
    return [str(req) for req in declared if req.name in RUNTIME_PACKAGES and "extra" not in str(req.marker or "")]


def python_of(env: Path) -> Path:
    return env / "bin" / "python"


def _run(command: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, env=env, check=False)


def _uv() -> str:
    from uv import find_uv_bin

    return find_uv_bin()


def _installable_versions(interpreter: Interpreter, name: str) -> list[Version]:
    """Versions of ``name`` with a wheel for ``interpreter``, asked of pip with the host's own settings."""
    result = _run([interpreter.path, "-m", "pip", "install", "--dry-run", "--quiet", "--no-deps", "--ignore-installed",
                   "--only-binary", ":all:", f"{name}==0+mldeploy.probe"])  # fmt: skip
    match = re.search(r"\(from versions: ([^)]*)\)", result.stderr)
    versions = []
    for text in match.group(1).split(", ") if match else []:
        try:
            versions.append(Version(text))
        except InvalidVersion:
            continue
    return sorted(version for version in versions if not version.is_prerelease)


def _nearest(versions: list[Version], pinned: Version) -> Version | None:
    """The first installable version after the pin (the smallest change forward), else the last before it."""
    later = [version for version in versions if version > pinned]
    earlier = [version for version in versions if version < pinned]
    return later[0] if later else earlier[-1] if earlier else None


def explain_failure(interpreter: Interpreter, spec: EnvironmentSpec, output: str) -> str:
    """Name the pinned package that has no build for this Python and its nearest installable version."""
    for line in spec.requirements:
        requirement = Requirement(line)
        pins = [item.version for item in requirement.specifier if item.operator == "==" and "*" not in item.version]
        if not pins or requirement.name.lower() not in output.lower():
            continue
        versions = _installable_versions(interpreter, requirement.name)
        if Version(pins[0]) in versions:
            continue
        nearest = _nearest(versions, Version(pins[0]))
        hint = (f"the nearest installable version is {nearest}: pin {requirement.name}=={nearest}" if nearest
                else "no version of it installs here")  # fmt: skip
        return (
            f"{requirement.name}=={pins[0]} (environment {spec.name!r}) has no build for Python "
            f"{interpreter.short} on this platform; {hint}."
        )
    tail = "\n".join(output.strip().splitlines()[-15:])
    return f"Installing the packages of environment {spec.name!r} failed:\n{tail}"


def copy_runtime(destination: Path) -> None:
    """Copy mldeploy's scoring package (and nothing of the control plane) into ``destination``/mldeploy."""
    target = destination / "mldeploy"
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    shutil.copy2(PACKAGE_ROOT / "__init__.py", target / "__init__.py")
    shutil.copytree(PACKAGE_ROOT / "scoring", target / "scoring", ignore=shutil.ignore_patterns("__pycache__"))


def _install_runtime(env: Path) -> None:
    """The runtime goes into the environment's site-packages (refreshed at every build: it is small)."""
    copy_runtime(next(env.glob("lib/python3*/site-packages")))


def build(spec: EnvironmentSpec, envs_root: Path, progress: Progress, source: str) -> Path:
    """The environment folder for ``spec``: reused when it exists, else built (atomically renamed into place)."""
    interpreter = find(spec.python, source)
    env = envs_root / spec.digest(".".join(map(str, interpreter.version)), platform.machine())
    if (env / COMPLETE).exists():
        progress(f"reusing environment {env.name}")
        _install_runtime(env)
        return env
    staging = envs_root / f".{env.name}.{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    envs_root.mkdir(parents=True, exist_ok=True)
    uv_env = {**os.environ, **uv_environment()}
    progress(f"creating a Python {interpreter.short} environment")
    created = _run([_uv(), "venv", "--quiet", "--python", interpreter.path, str(staging)], uv_env)
    if created.returncode != 0:
        raise BuildError(f"Creating the environment failed: {created.stderr.strip()}")
    packages = [*spec.requirements, *runtime_requirements()]
    progress(f"installing {len(spec.requirements)} packages and the scoring runtime")
    installed = _run([_uv(), "pip", "install", "--python", str(python_of(staging)), *packages], uv_env)
    if installed.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        raise BuildError(explain_failure(interpreter, spec, installed.stderr + installed.stdout))
    _install_runtime(staging)
    (staging / "spec.json").write_text(spec.to_json())
    shutil.rmtree(env, ignore_errors=True)
    os.replace(staging, env)
    (env / COMPLETE).write_text(".".join(map(str, interpreter.version)))
    progress(f"environment ready: {env.name}")
    return env

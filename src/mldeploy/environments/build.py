"""Build an environment spec into ``envs/<hash>`` with uv, once; later builds of the same spec reuse it.

The environment gets the user's packages, the scoring runtime's few dependencies, and a copy of
mldeploy's scoring package (``mldeploy.scoring``, which never imports the control plane). It is ready (and
reused later) only once every one of its packages imports.
"""

import os
import platform
import shutil
from collections.abc import Callable
from pathlib import Path

from ..errors import BuildError
from .advice import explain_failure, runtime_conflict
from .interpreters import find
from .spec import EnvironmentSpec
from .venv import import_failure, install_runtime, make, runtime_requirements

COMPLETE = ".complete"
Progress = Callable[[str], None]


def build(spec: EnvironmentSpec, envs_root: Path, progress: Progress, source: str) -> Path:
    """The environment folder for ``spec``: reused when it exists, else built (atomically renamed into place)."""
    interpreter = find(spec.python, source)
    env = envs_root / spec.digest(".".join(map(str, interpreter.version)), platform.machine())
    if (env / COMPLETE).exists():
        progress(f"reusing environment {env.name}")
        install_runtime(env)
        return env
    conflict = runtime_conflict(spec)
    if conflict:
        raise BuildError(conflict)
    staging = envs_root / f".{env.name}.{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    envs_root.mkdir(parents=True, exist_ok=True)
    progress(f"installing {len(spec.requirements)} packages and the scoring runtime into Python {interpreter.short}")
    try:
        installed = make(staging, interpreter, [*spec.requirements, *runtime_requirements()])
        if installed.returncode != 0:
            raise BuildError(explain_failure(interpreter, spec, installed.stderr + installed.stdout, envs_root))
        progress("checking that every package imports")
        failure = import_failure(staging, [*spec.requirements, *runtime_requirements()])
        if failure is not None:
            raise BuildError(f"Environment {spec.name!r} was built but does not work: {failure['paragraph']}")
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    (staging / "spec.json").write_text(spec.to_json())
    shutil.rmtree(env, ignore_errors=True)
    os.replace(staging, env)
    (env / COMPLETE).write_text(".".join(map(str, interpreter.version)))
    progress(f"environment ready: {env.name}")
    return env

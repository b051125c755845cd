"""Why an environment's packages do not install, in our words, with the change that fixes it.

- A user requirement that conflicts with the scoring runtime's own (``inference-schema==1.0.2`` against our
  ``inference-schema>=1.7``, or a pin that a runtime package's dependencies exclude): which requirement is
  ours, what the runtime needs it for, what to change.
- An old pin with no build for this Python: the nearest installable version, tried in a scratch environment
  first, with the pins it needs to import (``numpy<2`` for a scikit-learn compiled against numpy 1).
"""

import re
import tempfile
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from .interpreters import Interpreter
from .spec import EnvironmentSpec
from .venv import RUNTIME_PURPOSES, import_failure, make, run, runtime_requirements

MAX_ADDED_PINS = 2
UNSOLVABLE = ("No solution found", "unsatisfiable", "ResolutionImpossible")


def _pinned(requirement: Requirement) -> str | None:
    pins = [
        item.version for item in requirement.specifier if item.operator in ("==", "===") and "*" not in item.version
    ]
    return pins[0] if pins else None


def _runtime() -> dict[str, Requirement]:
    return {canonicalize_name(req.name): req for req in map(Requirement, runtime_requirements())}


def _conflict(spec: EnvironmentSpec, yours: Requirement, ours: Requirement, needs: str | None = None) -> str:
    purpose = RUNTIME_PURPOSES[canonicalize_name(ours.name)]
    same = canonicalize_name(yours.name) == canonicalize_name(ours.name)
    why = "" if same else f", and {ours.name} needs {yours.name}{needs}"
    change = (f"remove {yours.name} from the environment's packages (mldeploy installs it, as azureml-defaults did on "
              f"Azure) or change it to {ours}" if same else
              f"change it to {yours.name}{needs} or remove it (the installer then picks one that fits)")  # fmt: skip
    return (
        f"Your requirement {yours} (environment {spec.name!r}) conflicts with mldeploy's scoring runtime, which "
        f"installs {ours} into every environment for {purpose}{why}. Fix: {change}."
    )


def runtime_conflict(spec: EnvironmentSpec, output: str = "") -> str | None:
    """A user requirement the scoring runtime's requirements exclude, explained; None when there is none.
    Without ``output``, only pins of the runtime's own packages are checked (no network needed); with the
    installer's output of a failed resolution, also pins that a runtime package's dependencies exclude."""
    runtime = _runtime()
    lowered = output.lower()
    for line in spec.requirements:
        yours = Requirement(line)
        name = canonicalize_name(yours.name)
        pinned = _pinned(yours)
        ours = runtime.get(name)
        if ours is not None and pinned and not ours.specifier.contains(pinned, prereleases=True):
            return _conflict(spec, yours, ours)
        if not output or not any(marker.lower() in lowered for marker in UNSOLVABLE) or name not in lowered:
            continue
        if ours is not None and str(ours).lower() in lowered:  # the resolver names both: "you require a and b"
            return _conflict(spec, yours, ours)
        for needed in runtime.values():
            depends = rf"{re.escape(needed.name.lower())}\S* depends on {re.escape(name)}([<>=!~]\S*)"
            needs = re.search(depends, lowered)
            if needs:
                return _conflict(spec, yours, needed, needs.group(1).rstrip(",."))
    return None


def _installable_versions(interpreter: Interpreter, name: str) -> list[Version]:
    """Versions of ``name`` with a wheel for ``interpreter``, asked of pip with the host's own settings."""
    result = run([interpreter.path, "-m", "pip", "install", "--dry-run", "--quiet", "--no-deps", "--ignore-installed",
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


def pins_to_import(interpreter: Interpreter, requirements: list[str], scratch: Path) -> list[str] | None:
    """The pins ``requirements`` need besides to make an environment whose packages import, found by building
    it in ``scratch`` (uv's cache makes that quick): [] when they import as they are, None when they do not
    install, or import whatever is added."""
    added: list[str] = []
    for _ in range(MAX_ADDED_PINS + 1):
        with tempfile.TemporaryDirectory(prefix=".trial-", dir=scratch) as folder:
            packages = [*requirements, *added]
            if make(Path(folder), interpreter, [*packages, *runtime_requirements()]).returncode != 0:
                return None
            failure = import_failure(Path(folder), packages)
        if failure is None:
            return added
        if not failure.get("pin") or failure["pin"] in added:
            return None
        added.append(failure["pin"])
    return None


def old_pin(interpreter: Interpreter, spec: EnvironmentSpec, output: str, scratch: Path) -> str | None:
    """The pinned package that has no build for this Python, and the nearest version that installs and imports."""
    for line in spec.requirements:
        requirement = Requirement(line)
        pinned = _pinned(requirement)
        if not pinned or requirement.name.lower() not in output.lower():
            continue
        versions = _installable_versions(interpreter, requirement.name)
        if Version(pinned) in versions:
            continue
        nearest = _nearest(versions, Version(pinned))
        if nearest is None:
            hint = "no version of it installs here"
        else:
            others = [other for other in spec.requirements if other != line]
            extra = pins_to_import(interpreter, [*others, f"{requirement.name}=={nearest}"], scratch)
            needs = f", which imports only with {' and '.join(extra)}" if extra else ""
            hint = (f"the nearest installable version is {nearest}{needs}: pin "
                    f"{' and '.join([f'{requirement.name}=={nearest}', *(extra or [])])}")  # fmt: skip
        return (
            f"{requirement.name}=={pinned} (environment {spec.name!r}) has no build for Python "
            f"{interpreter.short} on this platform; {hint}."
        )
    return None


def explain_failure(interpreter: Interpreter, spec: EnvironmentSpec, output: str, scratch: Path) -> str:
    """Why installing ``spec``'s packages failed (``output``: the installer's), and the fix."""
    explained = runtime_conflict(spec, output) or old_pin(interpreter, spec, output, scratch)
    if explained:
        return explained
    tail = "\n".join(output.strip().splitlines()[-15:])
    return f"Installing the packages of environment {spec.name!r} failed:\n{tail}"

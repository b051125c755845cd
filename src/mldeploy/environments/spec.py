"""Parse a conda specification or a pip requirements file into one normalized environment spec."""

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

import yaml
from packaging.requirements import InvalidRequirement, Requirement

from ..errors import SpecError

# conda package names whose PyPI name differs
CONDA_TO_PYPI = {
    "pytorch": "torch",
    "pytorch-cpu": "torch",
    "torchvision-cpu": "torchvision",
    "py-xgboost": "xgboost",
    "py-opencv": "opencv-python",
    "opencv": "opencv-python",
    "matplotlib-base": "matplotlib",
    "msgpack-python": "msgpack",
    "tensorflow-mkl": "tensorflow",
    "tensorflow-gpu": "tensorflow",
    "pyyaml": "PyYAML",
    "python-graphviz": "graphviz",
}
# conda packages that are not Python packages (system libraries, toolchains): nothing to install from PyPI
CONDA_ONLY = {
    "pip", "setuptools", "wheel", "mkl", "nomkl", "blas", "libblas", "openblas", "cudatoolkit", "cudnn",
    "libgcc", "libgcc-ng", "libstdcxx-ng", "_libgcc_mutex", "openssl", "ca-certificates", "certifi",
    "zlib", "xz", "sqlite", "readline", "ncurses", "tk", "libffi", "intel-openmp", "mkl-service",
}  # fmt: skip
PROVIDED = {"azureml-defaults", "azureml-inference-server-http"}
# pip options that name another file, relative to the one they are in: ``-r base.txt``, ``--constraint=c.txt``
INCLUDE = re.compile(r"(?P<option>--requirement|--constraint|-r|-c)\s*=?\s*(?P<file>\S.*)")
REQUIREMENT_OPTIONS = ("-r", "--requirement")  # read; constraints files are not (the host's pip settings are used)
CONDA_SPEC = re.compile(r"^(?:[\w.-]+::)?(?P<name>[A-Za-z0-9_.-]+)\s*(?P<rest>.*)$")


@dataclass(frozen=True)
class EnvironmentSpec:
    name: str
    python: str | None = None  # "3.11"; None: the interpreter running mldeploy
    requirements: tuple[str, ...] = ()
    notices: tuple[str, ...] = field(default=(), compare=False)

    def digest(self, interpreter: str, platform: str) -> str:
        """What makes two environments the same: requirements, interpreter and platform (not the name)."""
        key = json.dumps([sorted(self.requirements), interpreter, platform])
        return hashlib.sha256(key.encode()).hexdigest()[:16]

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> "EnvironmentSpec":
        data = json.loads(text)
        return cls(data["name"], data["python"], tuple(data["requirements"]), tuple(data["notices"]))


def _python_version(spec: str, source: str) -> str:
    match = re.search(r"(\d+)\.(\d+)", spec)
    if match is None:
        raise SpecError(f"{source}: cannot read a Python version from {spec!r}; write it as python=3.11.")
    return f"{match.group(1)}.{match.group(2)}"


def _conda_constraint(rest: str) -> str:
    """conda's version syntax as a PEP 440 specifier: ``=1.2`` (fuzzy) -> ``==1.2.*``, ``==1.2`` exact."""
    rest = rest.strip()
    if not rest:
        return ""
    if rest.startswith("=="):
        return "==" + rest[2:].split("=")[0]
    if rest.startswith("="):
        version = rest[1:].split("=")[0]
    elif rest[0].isdigit():
        version = rest.split()[0]
    else:
        return rest.replace(" ", "")
    return f"=={version}" if version.endswith("*") else f"=={version}.*"


def _conda_to_pip(entry: str, source: str) -> tuple[str | None, str | None]:
    """(pip requirement, notice) for one conda dependency; (None, None) for a non-Python conda package."""
    match = CONDA_SPEC.match(entry.strip())
    if match is None:
        raise SpecError(f"{source}: {entry!r} is not a conda package spec such as numpy=1.21.")
    name = match.group("name").lower()
    if name in CONDA_ONLY:
        return None, None
    pypi = CONDA_TO_PYPI.get(name, name)
    notice = f"conda package {name!r} is installed from PyPI as {pypi!r}" if pypi != name else None
    return f"{pypi}{_conda_constraint(match.group('rest'))}", notice


def _normalized(line: str, source: str) -> str:
    try:
        return str(Requirement(line))
    except InvalidRequirement as error:
        raise SpecError(f"{source}: {line!r} is not a valid requirement ({error}).") from None


def _collect(lines: list[str], source: str, notices: list[str]) -> list[str]:
    requirements = []
    for line in lines:
        name = re.split(r"[\s<>=!~\[;@]", line, maxsplit=1)[0].lower()
        if name in PROVIDED:
            notices.append(f"{name} dropped: mldeploy provides the scoring server")
            continue
        requirements.append(_normalized(line, source))
    return list(dict.fromkeys(requirements))


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) else "it is not text"
        raise SpecError(f"Cannot read {path} ({reason}); name a pip requirements file that exists.") from None


def _included(path: Path, number: int, option: str, name: str, root: Path) -> Path:
    """The file that ``option name`` on line ``number`` of ``path`` names: it must be inside ``root``."""
    included = (path.parent / name).resolve()
    if not included.is_relative_to(root):
        raise SpecError(
            f"{path}:{number}: {option} {name} names a file outside {root}, the requirements file's folder; put "
            "that file in the folder (or copy its lines into this one) and name it from there."
        )
    return included


def _pip_lines(path: Path, root: Path, notices: list[str], reading: tuple[Path, ...] = ()) -> list[str]:
    """The requirement lines of ``path`` and of the files it includes (``-r``), which must be inside ``root``."""
    if path in reading:
        raise SpecError(f"{reading[-1]} includes {path} again: the files include each other; remove one -r line.")
    lines = []
    for number, raw in enumerate(_read(path).splitlines(), start=1):
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        include = INCLUDE.fullmatch(line)
        if include is not None:
            included = _included(path, number, include["option"], include["file"], root)
            if include["option"] in REQUIREMENT_OPTIONS:
                lines += _pip_lines(included, root, notices, (*reading, path))
                continue
        if line.startswith("-"):
            notices.append(f"{path.name}:{number}: pip option {line!r} ignored (the host's pip settings are used)")
        else:
            lines.append(line)
    return lines


def from_pip_requirements(name: str, path: Path) -> EnvironmentSpec:
    if not path.is_file():
        raise SpecError(f"The pip requirements file {path} does not exist.")
    notices: list[str] = []
    requirements = _collect(_pip_lines(path, path.parent.resolve(), notices), str(path), notices)
    return EnvironmentSpec(name, None, tuple(requirements), tuple(notices))


def from_conda_specification(name: str, path: Path) -> EnvironmentSpec:
    if not path.is_file():
        raise SpecError(f"The conda specification {path} does not exist.")
    try:
        document = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as error:
        raise SpecError(f"{path} is not valid YAML: {error}") from None
    dependencies = document.get("dependencies") if isinstance(document, dict) else None
    if not isinstance(dependencies, list):
        raise SpecError(f"{path} has no 'dependencies:' list; a conda specification needs one.")
    python = None
    lines: list[str] = []
    notices: list[str] = []
    for entry in dependencies:
        if isinstance(entry, dict) and "pip" in entry:
            lines += [str(item) for item in entry["pip"] or []]
        elif isinstance(entry, str) and re.match(r"^python(\s|=|>|<|$)", entry.strip()):
            python = _python_version(entry, str(path))
        elif isinstance(entry, str | int | float):
            requirement, notice = _conda_to_pip(str(entry), str(path))
            lines += [requirement] if requirement else []
            notices += [notice] if notice else []
        else:
            raise SpecError(f"{path}: cannot read the dependency {entry!r}.")
    return EnvironmentSpec(name, python, tuple(_collect(lines, str(path), notices)), tuple(notices))

"""Python interpreters this machine has (uv cannot download any here): PATH, pyenv, /usr/bin."""

import functools
import glob
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ..errors import InterpreterError

MIN_RUNTIME = (3, 10)  # the scoring runtime's own floor
PROBE = "import sys; print('%d.%d.%d' % sys.version_info[:3])"


@dataclass(frozen=True)
class Interpreter:
    version: tuple[int, int, int]
    path: str

    @property
    def short(self) -> str:
        return f"{self.version[0]}.{self.version[1]}"


def _candidates() -> list[str]:
    names = [f"python3.{minor}" for minor in range(6, 20)]
    found = [sys.executable]
    found += [path for name in names if (path := shutil.which(name))]
    found += sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/*/bin/python3")))
    found += sorted(glob.glob("/usr/bin/python3.*[0-9]"))
    return list(dict.fromkeys(found))


def _probe(path: str) -> Interpreter | None:
    try:
        result = subprocess.run([path, "-c", PROBE], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if result.returncode != 0:
        return None
    major, minor, micro = (int(part) for part in result.stdout.strip().split("."))
    return Interpreter((major, minor, micro), str(Path(path).resolve()))


def _probes() -> Iterator[Interpreter]:
    """Working interpreters, probed lazily in the order they are found."""
    yield Interpreter(tuple(sys.version_info[:3]), sys.executable)  # type: ignore[arg-type]
    for path in _candidates()[1:]:
        interpreter = _probe(path)
        if interpreter is not None:
            yield interpreter


@functools.cache
def available() -> tuple[Interpreter, ...]:
    """Every working interpreter, one per minor version (the first found wins)."""
    chosen: dict[tuple[int, int], Interpreter] = {}
    for interpreter in _probes():
        chosen.setdefault(interpreter.version[:2], interpreter)
    return tuple(sorted(chosen.values(), key=lambda item: item.version))


def find(wanted: str | None, source: str) -> Interpreter:
    """The interpreter for ``python=wanted`` (None: the one running mldeploy)."""
    if wanted is None:
        return next(_probes())
    major, minor = (int(part) for part in wanted.split("."))
    if (major, minor) >= MIN_RUNTIME:
        match = next((item for item in _probes() if item.version[:2] == (major, minor)), None)
        if match is not None:
            return match
    listed = ", ".join(item.short for item in available() if item.version[:2] >= MIN_RUNTIME) or "none"
    if (major, minor) < MIN_RUNTIME:
        raise InterpreterError(
            f"{source} asks for Python {wanted}; mldeploy's scoring runtime needs Python "
            f"{MIN_RUNTIME[0]}.{MIN_RUNTIME[1]} or newer. Change it to one this machine has: {listed}."
        )
    raise InterpreterError(
        f"{source} asks for Python {wanted}, which this machine does not have. "
        f"Change it to one of: {listed} (or install Python {wanted})."
    )

"""Does an environment work? Import each of its packages in the environment's own interpreter and, when one
fails, say which, the error's last line, the probable incompatible pair and the pin that fixes it.

Runs inside the environment, with the standard library only: after a build on this machine (``python -m
mldeploy.scoring.environment_check --json REQUIREMENT...``; by hand without ``--json``), and from failures.py
when init() fails inside an installed package, on every target. Images do not run it when they are built:
their environments are judged by init() (docs/environments.md). Import names come from the installed
distributions' metadata (top_level.txt, RECORD).
"""

import argparse
import importlib
import importlib.metadata as metadata
import json
import os
import re
import sys
import traceback
from collections.abc import Sequence
from functools import cache
from typing import Any

MARKER = "mldeploy environment check:"  # starts the paragraph printed without --json
BINARY = re.compile(
    r"binary incompatib|compiled using|compiled against|size changed|undefined symbol|_ARRAY_API|"
    r"cannot open shared object",
    re.IGNORECASE,
)
MISSING_LIBRARY = re.compile(r"([\w.+-]+\.so[\d.]*): cannot open shared object file")
REQUIREMENT_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
PIN = re.compile(r"==\s*([^\s,;]+)")
WHERE = "the environment's packages (the conda file's pip section, or the pip requirements file)"


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@cache
def _owners() -> dict[str, str]:
    """Top-level import name → the installed distribution that provides it."""
    return {name: dists[0] for name, dists in metadata.packages_distributions().items() if dists}


def import_names(distribution: str) -> list[str]:
    """What ``import`` takes for ``distribution``: its public top-level names, or only the one named after it."""
    wanted = canonical(distribution)
    names = sorted(
        name
        for name, owner in _owners().items()
        if canonical(owner) == wanted and name.isidentifier() and not name.startswith("_")
    )
    own = [name for name in names if canonical(name) == wanted]
    return own or names


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "?"


def _site_roots() -> list[str]:
    return sorted((os.path.realpath(p) for p in sys.path if "-packages" in p), key=len, reverse=True)


def distribution_of(filename: str) -> str | None:
    """The installed distribution a traceback frame's file belongs to (None: the user's code, the standard
    library). Compiled (Cython) frames name their file relative to the package: ``sklearn/utils/x.pyx``."""
    if os.path.isabs(filename):
        path = os.path.realpath(filename)
        root = next((root for root in _site_roots() if path.startswith(root + os.sep)), None)
        if root is None:
            return None
        first = path[len(root) + 1 :].split(os.sep)[0]
    else:
        first = filename.split("/")[0]
    return _owners().get(first.split(".")[0])


def _named_in(text: str, besides: str) -> str | None:
    """The first installed distribution (other than ``besides``) whose import name ``text`` mentions."""
    by_lower = {name.lower(): owner for name, owner in _owners().items()}
    for word in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", text):
        owner = by_lower.get(word.lower())
        if owner is not None and canonical(owner) != canonical(besides):
            return owner
    return None


def _bound(version: str, binary: bool) -> str:
    """Below the installed version's series: its major version for a binary break (numpy 2), else its minor."""
    parts = [*version.split("."), "0"][:2]
    return parts[0] if binary and parts[0] != "0" else ".".join(parts)


def fault(error: BaseException, fallback: str | None = None) -> dict[str, Any]:
    """What an import or init() error says of the environment: the failing distribution (the innermost frame's,
    else ``fallback``), its version, the error's last line, the probable other half of an incompatible pair and
    the pin that fixes it (None when nothing points to one)."""
    frames = traceback.extract_tb(error.__traceback__)
    owner = next((d for frame in reversed(frames) if (d := distribution_of(frame.filename))), None) or fallback
    last = traceback.format_exception_only(error)[-1].strip()
    binary = bool(BINARY.search(last))
    culprit = _named_in(last, owner) if owner else None
    culprit_version = _version(culprit) if culprit else None
    return {
        "distribution": owner,
        "version": _version(owner) if owner else None,
        "error": last,
        "binary": binary,
        "culprit": culprit,
        "culprit_version": culprit_version,
        "pin": f"{canonical(culprit)}<{_bound(culprit_version, binary)}" if culprit and culprit_version else None,
        "library": (match.group(1) if (match := MISSING_LIBRARY.search(last)) else None),
    }


def fix(found: dict[str, Any], requirements: Sequence[str] = (), then: str = "build it again") -> str:
    """The sentence that says what to change in the environment (``requirements``: the user's, when known)."""
    owner, version = found["distribution"], found["version"]
    if found["library"]:
        return (
            f"Fix: {owner} needs the system library {found['library']}, which is not installed: install it with "
            "the system's package manager (in an image too), or choose a variant of the package that does not "
            "need it."
        )
    if not found["pin"]:
        return f"Fix: pin another version of {owner} in {WHERE}, one made for the versions of its dependencies here."
    culprit = canonical(found["culprit"])
    pinned = next((line for line in requirements if _is(line, culprit) and PIN.search(line)), None)
    if pinned:
        return (
            f"Fix: your pin {pinned} does not go with {owner} {version}: remove it (the installer then picks a "
            f"{culprit} that fits) or pin another version of {owner}, in {WHERE}; then {then}."
        )
    return f"Fix: add {found['pin']} to {WHERE}, then {then}."


def _is(line: str, name: str) -> bool:
    match = REQUIREMENT_NAME.match(line)
    return bool(match) and canonical(match.group(1)) == name


def cause(found: dict[str, Any], module: str | None = None) -> str:
    """Which package fails (to import ``module``), the error's last line, and the probable incompatible pair."""
    owner, version = found["distribution"], found["version"]
    what = f"`import {module}` ({owner} {version})" if module else f"{owner} {version}"
    lines = [f"{what} fails: {found['error']}."]
    culprit = f"{found['culprit']} {found['culprit_version']}"
    if found["culprit"] and found["binary"]:
        lines.append(f"Probable cause: {owner} {version} was compiled against an older {found['culprit']} than the "
                     f"{culprit} installed.")  # fmt: skip
    elif found["culprit"]:
        lines.append(f"Probable cause: {owner} {version} and {culprit} do not go together.")
    return " ".join(lines)


def check(requirements: list[str]) -> dict[str, Any] | None:
    """Import every installed distribution that ``requirements`` names; the first failure, explained, or None."""
    for line in requirements:
        match = REQUIREMENT_NAME.match(line)
        if match is None or _version(match.group(1)) == "?":
            continue  # not installed here (an environment marker left it out)
        for module in import_names(match.group(1)):
            print(f"importing {module}", file=sys.stderr, flush=True)  # a crash names the module last tried
            try:
                importlib.import_module(module)
            except BaseException as error:  # whatever the import raises, SystemExit included
                found = fault(error, fallback=match.group(1))
                paragraph = f"{cause(found, module)} {fix(found, requirements)}"
                return {**found, "module": module, "paragraph": paragraph}
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("requirement", nargs="*")
    parser.add_argument("--json", action="store_true", help="print the failure as JSON (null when none)")
    args = parser.parse_args(argv)
    failure = check(list(args.requirement))
    sys.stderr.flush()
    if args.json:
        print(json.dumps(failure))
    elif failure is not None:
        print(f"{MARKER} {failure['paragraph']}")
    return 0 if failure is None else 1


if __name__ == "__main__":
    sys.exit(main())

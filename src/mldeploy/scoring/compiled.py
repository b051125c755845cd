"""The front's request path compiled to C by mypyc: the same modules, about 30 % fewer instructions per request.

``python -m mldeploy.scoring.compiled`` builds the modules of ``HOT`` (it needs mypy, which carries mypyc, and
a C compiler) into a folder named after this interpreter and a hash of the scoring package's sources (the
compiled modules rely on the types of the others: any edit makes a new build necessary). A server
started afterwards (``activate``, called by its entry points before the front is imported) loads them from
there when the folder for its own interpreter and its own sources exists, and runs the same modules as
Python otherwise: a build is never used for sources it was not made from, so an edit or an upgrade of
mldeploy falls back to Python until the next build, never to stale code. ``MLDEPLOY_PURE_PYTHON=1`` keeps
a server on Python. Workers stay Python: what they run is score.py.
"""

import hashlib
import importlib
import os
import platform
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

HOT = ("app", "bodies", "channel", "dispatch", "front", "request", "wire")
PURE_ENV = "MLDEPLOY_PURE_PYTHON"
FOLDER_ENV = "MLDEPLOY_COMPILED_DIR"  # where builds are kept; default: the user's cache folder
PACKAGE = Path(__file__).parent
NAME = __name__.rpartition(".")[0]  # mldeploy.scoring

# What the compiled modules get from other packages is typed as Any: compiled code checks declared types at run
# time, and a stub's type is not always the value's (httptools says a URL's query is bytes; it is None when absent).
# The rest of mldeploy keeps its types (calls into it are compiled as such): its annotations must be true.
MYPY_SETTINGS = """\
[mypy]
ignore_missing_imports = True
follow_imports = skip

[mypy-mldeploy.*]
follow_imports = normal
"""

state = "Python"  # how this process runs the front, for its start-up log line


def _builds() -> Path:
    configured = os.environ.get(FOLDER_ENV)
    if configured:
        return Path(configured)
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(cache, "mldeploy", "compiled")


def build_folder() -> Path:
    """Where the build for this interpreter and these sources is, or would be."""
    digest = hashlib.sha256()
    for source in sorted(PACKAGE.glob("*.py")):
        digest.update(source.name.encode() + b"\0" + source.read_bytes())
    interpreter = f"{sysconfig.get_config_var('SOABI')}-{platform.python_version()}"  # mypyc uses CPython's internals
    return _builds() / f"{interpreter}-{digest.hexdigest()[:16]}"


def activate() -> bool:
    """Load the front's modules from their build when there is one for these sources; True when it does."""
    global state
    if os.environ.get(PURE_ENV) == "1":
        state = f"Python ({PURE_ENV}=1)"
        return False
    loaded = [module for module in HOT if f"{NAME}.{module}" in sys.modules]
    if loaded:  # a module imported already stays as it is: compiled and Python modules of the front never mix
        state = f"Python ({', '.join(loaded)} imported before the build could be loaded)"
        return False
    folder = build_folder()
    if not (folder / "scoring").is_dir():
        state = "Python (no build for these sources: `python -m mldeploy.scoring.compiled` makes one)"
        return False
    package = sys.modules[NAME]
    before = set(sys.modules)
    sys.path.append(str(folder))  # mypyc's shared runtime module, named after the build
    package.__path__.insert(0, str(folder / "scoring"))
    try:
        for module in HOT:
            importlib.import_module(f"{NAME}.{module}")
    except Exception as error:  # a damaged build: the front runs as Python, and says why
        package.__path__.remove(str(folder / "scoring"))
        sys.path.remove(str(folder))
        for name in set(sys.modules) - before:  # what was imported with the build (a compiled module, or one
            if name.startswith(f"{NAME}."):  # that imported one) is imported again, as Python
                del sys.modules[name]
                parent, _, short = name.rpartition(".")
                if parent in sys.modules:
                    vars(sys.modules[parent]).pop(short, None)
        state = f"Python (the build in {folder} did not load: {error}; delete it and build again)"
        return False
    state = f"compiled with mypyc ({folder})"
    return True


def _missing_tools() -> str | None:
    if shutil.which((sysconfig.get_config_var("CC") or "cc").split()[0]) is None:
        return "a C compiler: apt-get install -y gcc"
    if not Path(sysconfig.get_paths()["include"], "Python.h").exists():
        return "Python's C headers: apt-get install -y python3-dev (or a Python built with them)"
    try:
        import mypyc  # noqa: F401
    except ImportError:
        return "mypyc: pip install 'mldeploy[compiled]' (it comes with mypy)"
    return None


def build() -> Path:
    """Compile the front's modules into their build folder (kept if it exists); the folder."""
    folder = build_folder()
    if (folder / "scoring").is_dir():
        return folder
    missing = _missing_tools()
    if missing is not None:
        raise SystemExit(f"Compiling the front needs {missing}. The front runs as Python meanwhile.")
    folder.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder.parent) as scratch:  # on the build's own file system: renamed whole
        tree = Path(scratch, "tree")
        shutil.copytree(PACKAGE.parent, tree / "mldeploy", ignore=shutil.ignore_patterns("__pycache__"))
        sources = [f"mldeploy/scoring/{module}.py" for module in HOT]
        (tree / "mypy.ini").write_text(MYPY_SETTINGS)
        result = subprocess.run(
            [sys.executable, "-m", "mypyc", "--config-file", "mypy.ini", *sources],
            cwd=tree, capture_output=True, text=True,
        )  # fmt: skip
        if result.returncode != 0:
            raise SystemExit(f"mypyc could not compile the front:\n{result.stdout[-3000:]}{result.stderr[-3000:]}")
        staged = Path(scratch, "build")
        (staged / "scoring").mkdir(parents=True)
        for library in tree.glob("*__mypyc*.so"):
            shutil.copy2(library, staged)
        for module in HOT:
            for library in (tree / "mldeploy" / "scoring").glob(f"{module}.*.so"):
                shutil.copy2(library, staged / "scoring")
        try:
            os.rename(staged, folder)  # whole or not at all: a server never sees half a build
        except OSError:
            if not (folder / "scoring").is_dir():  # else another build of the same sources came first
                raise
    return folder


if __name__ == "__main__":
    print(f"The front's compiled modules: {build()}")

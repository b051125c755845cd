"""Name a legacy breakage: what in an old score.py or an old pickled model no longer works with today's
libraries, the library version that removed or changed it, the fix, and whether legacy compatibility
(the shims of shims.py) serves the unchanged script. Standard library only: this runs in the worker."""

import importlib.metadata as metadata
import importlib.util
import os
import re
import traceback
from dataclasses import dataclass

from . import pickled_versions
from .shims import COMPAT_ENV, MODULE_ALIASES, NUMPY_ALIASES, registered_model_dir

OPT_IN = (
    "or serve the unchanged script with legacy compatibility: --legacy-compat (mldeploy serve, deploy, check), "
    f"legacy_compat=True in the deployment configuration, or {COMPAT_ENV}=1"
)
PANDAS_REMOVED = {
    "append": "pd.concat([frame, other])",
    "iteritems": ".items()",
    "lookup": ".loc / .melt()",
    "mad": "(x - x.mean()).abs().mean()",
}
PANDAS_ATTRIBUTE = re.compile(r"^'(DataFrame|Series)' object has no attribute '(\w+)'")
NUMPY_ATTRIBUTE = re.compile(r"^module 'numpy' has no attribute '(\w+)'")
PYTHON2_SYNTAX = ("Missing parentheses in call to", "multiple exception types must be parenthesized")
# import name -> the package to install, where they differ
PACKAGE_NAMES = {
    "sklearn": "scikit-learn",
    "cv2": "opencv-python-headless",
    "PIL": "pillow",
    "yaml": "pyyaml",
    "skimage": "scikit-image",
    "bs4": "beautifulsoup4",
    "dateutil": "python-dateutil",
    "Crypto": "pycryptodome",
    "google.protobuf": "protobuf",
    "tensorflow.keras": "tensorflow",
}
UNPICKLING_FILES = ("pickle.py", "numpy_pickle.py", os.path.join("torch", "serialization.py"))


@dataclass(frozen=True)
class Breakage:
    name: str  # short, stable: "sklearn.externals.joblib", "numpy.float", "torch.weights_only", ...
    cause: str  # one sentence, naming the library version that removed or changed the thing
    fix: str  # starts with "Fix:"
    compat_serves: bool  # legacy compatibility makes the unchanged script serve


def _installed(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "none"


def _unpickling(error: BaseException) -> bool:
    return any(frame.filename.endswith(UNPICKLING_FILES) for frame in traceback.extract_tb(error.__traceback__))


def _opt_in(compat_on: bool) -> str:
    return "" if compat_on else f"; {OPT_IN}"


def _externals(error: BaseException, where: str, compat_on: bool) -> Breakage | None:
    name = getattr(error, "name", None) or ""
    old = next((old for old in MODULE_ALIASES if name == old or name.startswith(old + ".")), None)
    if old is None and name == "sklearn.externals":
        old = next((o for o in MODULE_ALIASES if f"cannot import name '{o.rpartition('.')[2]}'" in str(error)), None)
    if old is None:
        return None
    new = MODULE_ALIASES[old]
    available = importlib.util.find_spec(new) is not None
    need = "" if available else f" and add {new} to the environment's packages"
    version = _installed("scikit-learn")
    if _unpickling(error):
        cause = (f"The model was saved with {old}, the copy of {new} that scikit-learn kept until 0.23, and "
                 f"scikit-learn {version} here has none.")  # fmt: skip
        fix = (f"Fix: load it once and save it again with `import {new}; {new}.dump(model, path)`{need}"
               f"{_opt_in(compat_on)}.")  # fmt: skip
    else:
        cause = f"{old} was removed in scikit-learn 0.23 (this environment has scikit-learn {version})."
        fix = f"Fix: write `import {new}` instead ({where}){need}{_opt_in(compat_on)}."
    return Breakage(old, cause, fix, available)


def _numpy_alias(error: BaseException, where: str, compat_on: bool) -> Breakage | None:
    match = NUMPY_ATTRIBUTE.match(str(error)) if isinstance(error, AttributeError) else None
    if match is None or match.group(1) not in NUMPY_ALIASES:
        return None
    alias, builtin = match.group(1), NUMPY_ALIASES[match.group(1)].__name__
    cause = (f"np.{alias} was an alias of the builtin {builtin}, removed in NumPy 1.24 (this environment has NumPy "
             f"{_installed('numpy')}).")  # fmt: skip
    fix = f"Fix: write {builtin} instead of np.{alias} ({where}), or pin numpy<1.24 in the environment"
    fix += f"{_opt_in(compat_on)}."
    return Breakage(f"numpy.{alias}", cause, fix, True)


def _pandas_method(error: BaseException, where: str, compat_on: bool) -> Breakage | None:
    match = PANDAS_ATTRIBUTE.match(str(error)) if isinstance(error, AttributeError) else None
    if match is None or match.group(2) not in PANDAS_REMOVED:
        return None
    kind, method = match.groups()
    cause = f"{kind}.{method} was removed in pandas 2.0 (this environment has pandas {_installed('pandas')})."
    fix = (f"Fix: use {PANDAS_REMOVED[method]} instead ({where}), or pin pandas<2 in the environment "
           "(with numpy<2: pandas 1.x is built for NumPy 1; legacy compatibility does not change pandas).")  # fmt: skip
    return Breakage(f"pandas.{kind}.{method}", cause, fix, False)


def _sklearn_module(error: BaseException, where: str, compat_on: bool) -> Breakage | None:
    name = getattr(error, "name", None) or ""
    if (
        not isinstance(error, ModuleNotFoundError)
        or not name.startswith("sklearn.")
        or _installed("scikit-learn") == "none"
    ):
        return None
    parent, _, last = name.rpartition(".")
    try:
        private = f"{parent}._{last}" if importlib.util.find_spec(f"{parent}._{last}") else None
    except ImportError:
        private = None
    renamed = f", which scikit-learn 0.22 made private as {private} and 0.24 removed" if private else ""
    version = _installed("scikit-learn")
    if _unpickling(error):
        cause = (f"The model was pickled with a scikit-learn older than this one: it names the module {name}"
                 f"{renamed} (this environment has scikit-learn {version}).")  # fmt: skip
        fix = ("Fix: pin the scikit-learn that pickled it in the environment (scikit-learn==0.23.2 for a model "
               "from before 0.24; it needs python=3.8 in the conda file), or load it there and save it again "
               f"with scikit-learn {version}, or train it again. Legacy compatibility does not cover it: the "
               "classes inside changed too.")  # fmt: skip
    else:
        cause = f"The script imports {name}{renamed} (this environment has scikit-learn {version})."
        fix = f"Fix: import the class from {parent} instead ({where})."
    return Breakage(name, cause, fix, False)


def _torch_weights_only(error: BaseException, where: str, compat_on: bool) -> Breakage | None:
    if "Weights only load failed" not in str(error):
        return None
    cause = (f"torch.load() refused a whole pickled model: since torch 2.6 it loads with weights_only=True by "
             f"default, tensors and state_dicts only (this environment has torch {_installed('torch')}).")  # fmt: skip
    fix = (f"Fix: torch.load(path, weights_only=False) ({where}), for files you trust; or save model.state_dict() "
           "and load it into the model's class")  # fmt: skip
    registered = registered_model_dir() is not None
    if compat_on and not registered:
        fix += "; legacy compatibility loads only the deployment's registered model files that way, and none was given."
    elif not compat_on:
        fix += f"; {OPT_IN} (it does so for the deployment's registered model files only)."
    else:
        fix += (
            "; legacy compatibility loads only the files of the registered models that way: load the model from there."
        )
    return Breakage("torch.weights_only", cause, fix, registered)


def _python2(error: BaseException, where: str, compat_on: bool) -> Breakage | None:
    if not isinstance(error, SyntaxError) or not str(error.msg).startswith(PYTHON2_SYNTAX):
        return None
    cause = f"{where} is Python 2 syntax, which Python 3 refuses ({error.msg})."
    fix = ("Fix: write it in Python 3: print(x) instead of print x, `except Error as e` instead of "
           "`except Error, e`.")  # fmt: skip
    return Breakage("python2-syntax", cause, fix, False)


def _missing_package(error: BaseException, where: str, compat_on: bool) -> Breakage | None:
    name = getattr(error, "name", None) or ""
    if not isinstance(error, ModuleNotFoundError) or not name:
        return None
    top = name.partition(".")[0]
    if importlib.util.find_spec(top) is not None:
        return None  # a module missing inside an installed package: not a package to add
    package = next((pkg for mod, pkg in PACKAGE_NAMES.items() if name == mod or name.startswith(mod + ".")), None)
    package = package or PACKAGE_NAMES.get(top, top)
    cause = f"No module named {name!r}: the environment that runs the script has no package providing it."
    fix = (f"Fix: add the package {package} to the environment: `- {package}` under `- pip:` in the conda file, "
           f"or a line `{package}` in the pip requirements; then deploy again.")  # fmt: skip
    return Breakage(f"missing:{package}", cause, fix, False)


RULES = (_externals, _sklearn_module, _missing_package, _numpy_alias, _pandas_method, _torch_weights_only, _python2)


def diagnose(error: BaseException, where: str) -> Breakage | None:
    """The legacy breakage ``error`` shows (``where``: "file, line N"), or None."""
    compat_on = os.environ.get(COMPAT_ENV) == "1"
    return next((found for rule in RULES if (found := rule(error, where, compat_on)) is not None), None)


def version_advice() -> list[str]:
    """What scikit-learn said of the pickled models' versions, as pins to make."""
    return [pickled_versions.pin_advice(found) for found in pickled_versions.seen]

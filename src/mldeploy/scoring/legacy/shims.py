"""Import-time shims for what old scoring scripts and pickles use and a faithful modern equivalent replaces.

Installed in a worker only, and only with legacy compatibility on (``--legacy-compat``,
``MLDEPLOY_LEGACY_COMPAT=1``, ``legacy_compat=True``). Each shim is logged once, by name, when first used:

- ``sklearn.externals.joblib`` (and its submodules, which old pickles name) is ``joblib``;
  ``sklearn.externals.six`` is ``six`` when six is installed. scikit-learn 0.23 removed both copies.
- The NumPy aliases removed in 1.24 (``np.float``, ``np.int``, ...) are the builtins they always were.
- ``torch.load`` of a file of the deployment's registered models uses ``weights_only=False``, the default
  before torch 2.6 (it runs the pickle code in that file); any other file keeps torch's default.
"""

import builtins
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import logging
import os
import sys
import types
from collections.abc import Callable
from typing import Any

logger = logging.getLogger("mldeploy.legacy")

MODULE_ALIASES = {"sklearn.externals.joblib": "joblib", "sklearn.externals.six": "six"}
NUMPY_ALIASES = {
    "float": builtins.float,
    "int": builtins.int,
    "bool": builtins.bool,
    "object": builtins.object,
    "str": builtins.str,
    "complex": builtins.complex,
    "long": builtins.int,
    "unicode": builtins.str,
}
COMPAT_ENV = "MLDEPLOY_LEGACY_COMPAT"

used: list[str] = []


def _note(name: str, message: str) -> None:
    """Log a shim once, the first time it is used."""
    if name not in used:
        used.append(name)
        logger.warning("Legacy compatibility: %s", message)


def _alias_target(fullname: str) -> str | None:
    for old, new in MODULE_ALIASES.items():
        if fullname == old or fullname.startswith(old + "."):
            return new + fullname[len(old) :]
    return None


class _AliasLoader(importlib.abc.Loader):
    """Puts the real module in ``sys.modules`` under the old name (the import system returns that one)."""

    def __init__(self, old: str, new: str) -> None:
        self.old, self.new = old, new

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> None:
        return None

    def exec_module(self, module: types.ModuleType) -> None:
        sys.modules[self.old] = importlib.import_module(self.new)
        top_old, top_new = self.old.split(".")[:3], self.new.split(".")[0]
        _note(
            ".".join(top_old), f"{'.'.join(top_old)} is {top_new} (removed in scikit-learn 0.23; fix: import {top_new})"
        )


class AliasFinder(importlib.abc.MetaPathFinder):
    """First on ``sys.meta_path``, answers only for the removed names that the installed packages lack."""

    def find_spec(self, fullname, path, target=None):  # type: ignore[no-untyped-def]
        new = _alias_target(fullname)
        if new is None:
            return None
        parent, _, _ = fullname.rpartition(".")
        if fullname in MODULE_ALIASES:
            if importlib.machinery.PathFinder.find_spec(fullname, path) is not None:
                return None  # an old scikit-learn that still has it
            if importlib.util.find_spec(new) is None:
                return None  # six is not installed: the import fails as it would without the shim
        elif sys.modules.get(parent) is not sys.modules.get(_alias_target(parent) or ""):
            return None
        return importlib.machinery.ModuleSpec(fullname, _AliasLoader(fullname, new))


def _numpy_aliases(numpy: types.ModuleType) -> None:
    """``np.float`` and the other removed aliases answer the builtin, through numpy's own ``__getattr__``."""
    original: Callable[[str], Any] | None = numpy.__dict__.get("__getattr__")

    def __getattr__(name: str) -> Any:
        if name in NUMPY_ALIASES:
            value = NUMPY_ALIASES[name]
            _note(f"numpy.{name}", f"np.{name} is the builtin {value.__name__} (removed in NumPy 1.24; fix: write "
                                   f"{value.__name__})")  # fmt: skip
            return value
        if original is None:
            raise AttributeError(f"module 'numpy' has no attribute {name!r}")
        return original(name)

    numpy.__getattr__ = __getattr__  # type: ignore[method-assign]


def registered_model_dir() -> str | None:
    """The deployment's model folder (AZUREML_MODEL_DIR, relative to the app root), when it has one."""
    model_dir = os.environ.get("AZUREML_MODEL_DIR")
    if not model_dir:
        return None
    return os.path.realpath(os.path.join(os.environ.get("AML_APP_ROOT", os.getcwd()), model_dir))


def _is_registered(path: Any) -> bool:
    folder = registered_model_dir()
    if folder is None or not isinstance(path, str | os.PathLike):
        return False
    return os.path.realpath(os.fspath(path)).startswith(folder + os.sep)


def _torch_full_pickles(torch: types.ModuleType) -> None:
    """``torch.load(f)`` of a registered model's file loads full pickles again (weights_only=False)."""
    original = torch.load

    def load(f: Any, *args: Any, **kwargs: Any) -> Any:
        if kwargs.get("weights_only") is None and _is_registered(f):
            kwargs["weights_only"] = False
            _note(
                f"torch.load:{os.fspath(f)}",
                f"torch.load({os.fspath(f)!r}) with weights_only=False (the default before torch 2.6): this runs the "
                "pickle code in that file, a file of this deployment's registered models. Fix: save the "
                "model's state_dict, or pass weights_only=False yourself for files you trust",
            )
        return original(f, *args, **kwargs)

    load.__doc__ = original.__doc__
    load.__wrapped__ = original  # type: ignore[attr-defined]
    torch.load = load


AFTER_IMPORT = {"numpy": _numpy_aliases, "torch": _torch_full_pickles}


class AfterImportFinder(importlib.abc.MetaPathFinder):
    """Runs a patch right after a module's own code, before the script can use it. The module keeps its own
    loader (only this spec's ``exec_module`` is wrapped)."""

    def find_spec(self, fullname, path, target=None):  # type: ignore[no-untyped-def]
        patch = AFTER_IMPORT.get(fullname)
        if patch is None:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None:
            return None
        execute = spec.loader.exec_module

        def exec_module(module: types.ModuleType) -> None:
            execute(module)
            patch(module)

        spec.loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


def install() -> None:
    """Install the shims (idempotent); modules imported already (a spare worker's) are patched at once."""
    if not any(isinstance(finder, AliasFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, AliasFinder())
        sys.meta_path.insert(0, AfterImportFinder())
        for name, patch in AFTER_IMPORT.items():
            if name in sys.modules:
                patch(sys.modules[name])

"""Stand-ins for the ``azureml`` modules that scoring scripts import, so they run unchanged without azureml.

- ``azureml.contrib.services.aml_request`` / ``aml_response`` (and the reference server's own
  ``azureml_inference_server_http.api.*`` names) always resolve to ours, as the reference server does with
  its own copies: ``@rawhttp`` must mark the function for *this* server.
- ``azureml.core.model.Model`` resolves to ours only when azureml-core is not installed.
"""

import importlib.abc
import importlib.machinery
import importlib.util
import sys
import types

from . import aml_request, aml_response, model

FORCED = {
    "azureml.contrib.services.aml_request": aml_request,
    "azureml.contrib.services.aml_response": aml_response,
    "azureml_inference_server_http.api.aml_request": aml_request,
    "azureml_inference_server_http.api.aml_response": aml_response,
}
FALLBACK_MODULES = {"azureml.core.model": model}
FALLBACK_PACKAGES = {
    "azureml",
    "azureml.core",
    "azureml.contrib",
    "azureml.contrib.services",
    "azureml_inference_server_http",
    "azureml_inference_server_http.api",
}


class _ShimLoader(importlib.abc.Loader):
    def __init__(self, source: types.ModuleType | None) -> None:
        self.source = source

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> None:
        return None

    def exec_module(self, module: types.ModuleType) -> None:
        if self.source is not None:
            module.__dict__.update({key: value for key, value in vars(self.source).items() if not key.startswith("__")})


class ShimFinder(importlib.abc.MetaPathFinder):
    """Last on ``sys.meta_path``: answers only for the azureml names nothing else provides."""

    def find_spec(self, fullname, path, target=None):  # type: ignore[no-untyped-def]
        if fullname in FALLBACK_PACKAGES:
            spec = importlib.machinery.ModuleSpec(fullname, _ShimLoader(None), is_package=True)
            spec.submodule_search_locations = []
            return spec
        if fullname in FALLBACK_MODULES:
            return importlib.machinery.ModuleSpec(fullname, _ShimLoader(FALLBACK_MODULES[fullname]))
        return None


def _provides_top_level(name: str) -> bool:
    """True when ``name``'s top-level package is ours (or the azureml namespace, which we may extend)."""
    top = name.partition(".")[0]
    spec = importlib.util.find_spec(top)
    return top == "azureml" or spec is None or isinstance(spec.loader, _ShimLoader)


def install() -> None:
    """Make the azureml names importable for the scoring script (idempotent).

    The parent packages are imported too, so that ``import azureml.contrib.services.aml_request as m``
    finds every intermediate module.
    """
    if not any(isinstance(finder, ShimFinder) for finder in sys.meta_path):
        sys.meta_path.append(ShimFinder())
    for name, module in FORCED.items():
        sys.modules[name] = module
        if _provides_top_level(name):
            importlib.import_module(name.rpartition(".")[0])

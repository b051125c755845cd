"""mldeploy: deploy Azure ML v1 style scoring scripts on your own machine, in Docker and on Kubernetes.

``from mldeploy import Workspace, Model`` gives the v1-style API. Names are imported lazily, so that the
scoring server (``mldeploy.scoring``), which runs in users' environments, never loads the control plane.
"""

from typing import Any

__version__ = "0.1.0"

_API = {
    "Workspace": "mldeploy.api.workspace",
    "Model": "mldeploy.api.model",
    "Environment": "mldeploy.api.environment",
    "InferenceConfig": "mldeploy.api.inference_config",
    "LocalWebservice": "mldeploy.api.webservice",
    "AciWebservice": "mldeploy.api.webservice",
    "AksWebservice": "mldeploy.api.webservice",
    "Webservice": "mldeploy.api.webservice",
    "WebserviceException": "mldeploy.api.webservice",
}
__all__ = [
    "AciWebservice",
    "AksWebservice",
    "Environment",
    "InferenceConfig",
    "LocalWebservice",
    "Model",
    "Webservice",
    "WebserviceException",
    "Workspace",
    "__version__",
]


def __getattr__(name: str) -> Any:
    if name in _API:
        import importlib

        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'mldeploy' has no attribute {name!r}")

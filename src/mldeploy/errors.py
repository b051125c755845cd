"""The control plane's errors, importable without loading what raises them (the CLI stays quick to start).

Each message names the problem and the fix.
"""


class ModelError(LookupError):
    """A model that cannot be registered or found."""


class ModelInUse(ModelError):
    """A model version that deployed services use: deleting it needs ``force``."""


class UnsafeModelPath(ModelError):
    """A model file path or link that reaches outside the folder it belongs to."""


class InvalidName(ValueError):
    """A model or environment name that breaks the naming rule."""


class EnvironmentNotFound(LookupError):
    """No registered environment of that name (or version)."""


class SpecError(ValueError):
    """A conda specification or pip requirements file that cannot be read."""


class BuildError(RuntimeError):
    """An environment that cannot be built."""


class InterpreterError(LookupError):
    """No interpreter on this machine matches the requested Python version."""


class StoreError(RuntimeError):
    """The workspace's database cannot be opened."""


class WorkspaceBusy(StoreError):
    """Another process held the workspace database's write lock for longer than we wait."""


class DeploymentError(RuntimeError):
    """A deployment that cannot be made or did not start."""


class ServiceNotFound(LookupError):
    """No service of that name in the workspace."""


class DockerUnavailable(RuntimeError):
    """The Docker engine does not answer, or a tool the images need is missing."""


class WebserviceException(Exception):
    """A service that cannot be deployed, found or called; the message is the cause and the fix."""

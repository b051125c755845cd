"""``Model.package``: a Docker image of a deployment, or the Dockerfile and context to build it yourself.

A package serves ``/score`` with a key unless made with ``auth_enabled=False``: the key is made here, kept
owner-only in ``<workspace>/packages/<id>.keys.env`` (a ``docker run --env-file`` file) and given to the
container at run time in $MLDEPLOY_AUTH_KEYS, never put in a layer; the image refuses to start without it.
"""

from __future__ import annotations

import hashlib
import shutil
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import BuildError, DeploymentError, DockerUnavailable, WebserviceException
from ..scoring.config import ENV_AUTH_KEYS
from ..targets import package
from ..targets.docker_engine import connect
from ..targets.image_build import build_deployment_image
from ..targets.images import base_image
from ..targets.keys import new_key
from ..workspace.private import private_folder, write_private

if TYPE_CHECKING:
    from ..workspace.schema import ModelRow
    from .inference_config import InferenceConfig
    from .workspace import Workspace


class ModelPackage:
    """``location``: the image tag (built) or the context folder (``generate_dockerfile=True``). ``key``: what
    clients send to ``/score`` (``Authorization: Bearer KEY``), kept in ``key_file``; None without auth."""

    def __init__(
        self, location: str, context: Path, build_log: str = "", key: str | None = None, key_file: Path | None = None
    ) -> None:
        self.location = location
        self.context = context
        self.key = key
        self.key_file = key_file
        self._log = build_log

    @property
    def run_command(self) -> str:
        """How to start the image on this machine (listening on 0.0.0.0:5001), with its key."""
        image = "IMAGE" if self.location == str(self.context) else self.location
        keys = f" --env-file {self.key_file}" if self.key_file else ""
        return f"docker run --network host{keys} {image}"

    def wait_for_creation(self, show_output: bool = False) -> None:
        """Packages are made synchronously; kept for v1 code. Shows the build log and how to run the image."""
        if show_output:
            print(f"{self._log}\nRun it: {self.run_command}".lstrip())

    def get_logs(self) -> str:
        return self._log

    def save(self, output_directory: str | Path) -> str:
        """Copy the Dockerfile and its context into ``output_directory``, ready for ``docker build``."""
        shutil.copytree(self.context, output_directory, dirs_exist_ok=True)
        environment = Path(output_directory, package.ENVIRONMENT)
        if not (environment / "pip.conf").exists():
            package.write_environment_files(environment)
        return str(output_directory)


def _write_key(folder: Path, name: str) -> tuple[str, Path]:
    """A new key, in ``folder/<name>.keys.env`` (owner-only): ``docker run --env-file`` reads it."""
    key = new_key()
    key_file = private_folder(folder) / f"{name}.keys.env"
    write_private(key_file, f"{ENV_AUTH_KEYS}={key}\n")
    return key, key_file


def make_package(
    workspace: Workspace,
    rows: list[ModelRow],
    inference_config: InferenceConfig,
    generate_dockerfile: bool,
    image_name: str | None,
    auth_enabled: bool = True,
) -> ModelPackage:
    """The package (``auth_enabled``: with a new key); WebserviceException saying what failed and the fix."""
    try:
        return _make_package(workspace, rows, inference_config, generate_dockerfile, image_name, auth_enabled)
    except (DeploymentError, DockerUnavailable, BuildError) as error:
        raise WebserviceException(str(error)) from None


def _make_package(
    workspace: Workspace,
    rows: list[ModelRow],
    inference_config: InferenceConfig,
    generate_dockerfile: bool,
    image_name: str | None,
    auth_enabled: bool,
) -> ModelPackage:
    environment = inference_config.environment
    client = connect()
    packages = private_folder(workspace.path / "packages")
    name = uuid.uuid4().hex[:12]
    context = packages / name
    package.write_context(
        context,
        base_image(client, lambda step: None),
        workspace._store.blobs,
        rows,
        inference_config.entry_script,
        inference_config.source_directory,
        environment.spec if environment else None,
        require_key=auth_enabled,
        standalone=generate_dockerfile,
    )
    key, key_file = _write_key(packages, name) if auth_enabled else (None, None)
    if generate_dockerfile:
        return ModelPackage(str(context), context, key=key, key_file=key_file)
    digest = hashlib.sha256((context / "Dockerfile").read_bytes()).hexdigest()[:12]
    tag = image_name or f"mldeploy/package:{digest}"
    log_file = packages / f"{name}.build.log"
    build_deployment_image(client, context, tag, lambda step: None, log_file)
    return ModelPackage(tag, context, log_file.read_text(), key, key_file)

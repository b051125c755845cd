"""``Model.package``: a Docker image of a deployment, or the Dockerfile and context to build it yourself."""

from __future__ import annotations

import hashlib
import shutil
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from ..targets import package
from ..targets.docker_engine import connect
from ..targets.image_build import build_deployment_image
from ..targets.images import base_image

if TYPE_CHECKING:
    from ..workspace.schema import ModelRow
    from .inference_config import InferenceConfig
    from .workspace import Workspace


class ModelPackage:
    """``location``: the image tag (built) or the context folder (``generate_dockerfile=True``)."""

    def __init__(self, location: str, context: Path, build_log: str = "") -> None:
        self.location = location
        self.context = context
        self._log = build_log

    def wait_for_creation(self, show_output: bool = False) -> None:
        """Packages are made synchronously; kept for v1 code."""
        if show_output and self._log:
            print(self._log)

    def get_logs(self) -> str:
        return self._log

    def save(self, output_directory: str | Path) -> str:
        """Copy the Dockerfile and its context into ``output_directory``."""
        shutil.copytree(self.context, output_directory, dirs_exist_ok=True)
        return str(output_directory)


def make_package(
    workspace: Workspace,
    rows: list[ModelRow],
    inference_config: InferenceConfig,
    generate_dockerfile: bool,
    image_name: str | None,
) -> ModelPackage:
    environment = inference_config.environment
    client = connect()
    context = workspace.path / "packages" / uuid.uuid4().hex[:12]
    package.write_context(
        context,
        base_image(client, lambda step: None),
        workspace._store.blobs,
        rows,
        inference_config.entry_script,
        inference_config.source_directory,
        environment.spec if environment else None,
    )
    if generate_dockerfile:
        return ModelPackage(str(context), context)
    digest = hashlib.sha256((context / "Dockerfile").read_bytes()).hexdigest()[:12]
    tag = image_name or f"mldeploy/package:{digest}"
    log_file = context.parent / f"{context.name}.build.log"
    build_deployment_image(client, context, tag, lambda step: None, log_file)
    return ModelPackage(tag, context, log_file.read_text())

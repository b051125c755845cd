"""A service's deployment image: the build context of ``record.revision`` (its app folder) built through the
engine, on the base image, with the environment layer kept for reuse."""

import shutil
from collections.abc import Sequence
from typing import Any

from ..scoring.config import ServerConfig
from ..workspace.blobs import BlobStore
from ..workspace.services import ServiceRecord
from . import package
from .base import Plan, Progress
from .image_build import build_deployment_image
from .images import base_image


def build_service_image(
    client: Any, blobs: BlobStore, record: ServiceRecord, plan: Plan, progress: Progress, repository: str,
    extra_requirements: Sequence[str] = (),
) -> ServerConfig:  # fmt: skip
    """Build ``repository:<revision>`` into ``record.image``; the server config the image carries."""
    base = base_image(client, progress)
    shutil.rmtree(record.app_root, ignore_errors=True)
    progress("writing the build context")
    image_config = package.write_context(
        record.app_root, base, blobs, plan.models, plan.entry_script, plan.source_directory, plan.spec,
        extra_requirements,
    )  # fmt: skip
    record.image = f"{repository}:{record.revision}"
    build_deployment_image(client, record.app_root, record.image, progress, record.path / "build.log")
    return image_config

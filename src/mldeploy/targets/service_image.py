"""A service's deployment image: the build context of ``record.revision`` (its app folder) built through the
engine, on the base image, with the environment layer kept for reuse.

The image's own config (``/etc/mldeploy/server.json``) holds no key: the target gives the service's config
with its keys at run time. A service deployed with auth has an image that refuses to start without keys, so
the image run by hand (``docker run IMAGE``) never serves ``/score`` without one."""

import contextlib
import shutil
from collections.abc import Iterable, Sequence
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
    """Build ``repository:<revision>`` into ``record.image``; the server config the image carries (requiring
    keys at run time when the plan's ``auth_enabled``)."""
    base = base_image(client, progress)
    shutil.rmtree(record.app_root, ignore_errors=True)
    progress("writing the build context")
    image_config = package.write_context(
        record.app_root, base, blobs, plan.models, plan.entry_script, plan.source_directory, plan.spec,
        extra_requirements, require_key=bool(plan.settings.get("auth_enabled")),
    )  # fmt: skip
    record.image = f"{repository}:{record.revision}"
    build_deployment_image(client, record.app_root, record.image, progress, record.path / "build.log")
    return image_config


def remove_service_images(
    client: Any, repositories: Iterable[str], keep: str | None, previous: str | None = None
) -> None:
    """Our own leftovers: the tags in ``repositories`` (a service's own) but ``keep``, and the images they and
    ``previous`` (an image a rebuild left untagged) leave untagged. Anyone else's tag on the same image, and
    whatever another image or container still uses, stay."""
    from docker.errors import APIError

    images = {previous} if previous else set()
    for repository in repositories:
        for image in client.images.list(name=repository):
            images.add(image.id)
            for tag in image.tags:
                if tag.rpartition(":")[0] == repository and tag != keep:
                    with contextlib.suppress(APIError):  # untags; deletes the image only with its last tag
                        client.images.remove(tag)
    for image_id in images:
        with contextlib.suppress(APIError):  # NotFound: removed with its last tag; conflict: still used
            if not client.images.get(image_id).tags:
                client.images.remove(image_id)

"""Images of this workspace's deleted services: our own tags only.

A service's image repository is ``mldeploy/mldeploy-<service>-<hash>``, where the hash names the service's
folder in its workspace (``container_name``). A tag is ours to remove only when that repository is the one
this workspace's service of that name would use and no such service exists. The check is made again under
the service's claim (the lock every deploy of the name takes), so a deploy of the name that starts meanwhile
keeps its image. Anyone else's tag, another workspace's, and images still used by containers stay.
"""

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ..workspace.removal import Removal
from ..workspace.services import ServiceRecord, claim, services_root
from .container import container_name
from .service_image import remove_service_images

OUR_REPOSITORY = re.compile(r"mldeploy/mldeploy-(?P<service>[a-z][a-z0-9-]{1,30}[a-z0-9])-[0-9a-f]{8}")


def repository_of(home: Path, service: str) -> str:
    """The image repository service ``service`` of the workspace ``home`` builds into."""
    folder = services_root(home) / service
    return f"mldeploy/{container_name(ServiceRecord(name=service, target='docker', port=0, folder=str(folder)))}"


def _deleted(home: Path, service: str) -> bool:
    return not (services_root(home) / service / "service.json").exists()


def _orphans(client: Any, home: Path) -> dict[str, list[tuple[str, int]]]:
    """{repository: [(tag, bytes it frees)]} for this workspace's services that no longer exist. An image's
    size counts only when every tag it has is one of these (else removing them frees nothing)."""
    found: dict[str, list[tuple[str, int]]] = {}
    images = client.images.list(filters={"reference": "mldeploy/mldeploy-*"})
    for image in images:
        ours = []
        for tag in image.tags:
            repository = tag.rpartition(":")[0]
            match = OUR_REPOSITORY.fullmatch(repository)
            if match and repository == repository_of(home, match["service"]) and _deleted(home, match["service"]):
                ours.append((repository, tag))
        freed = int(image.attrs.get("Size", 0)) if ours and len(ours) == len(image.tags) else 0
        for index, (repository, tag) in enumerate(ours):
            found.setdefault(repository, []).append((tag, freed if index == 0 else 0))
    return found


def prune_images(client: Any, home: Path, dry_run: bool, waiting: Callable[[str], None]) -> Iterator[Removal]:
    """Remove (or, dry, list) our own tags of this workspace's deleted services."""
    for repository, tags in sorted(_orphans(client, home).items()):
        service = OUR_REPOSITORY.fullmatch(repository)["service"]  # type: ignore[index]
        if dry_run:
            yield from (Removal("image", tag, size) for tag, size in tags)
            continue
        with claim(home, service, waiting):
            if not _deleted(home, service):  # deployed again meanwhile: its image is in use
                continue
            remove_service_images(client, [repository], keep=None)
        remaining = {tag for image in client.images.list(name=repository) for tag in image.tags}
        yield from (Removal("image", tag, size) for tag, size in tags if tag not in remaining)  # in use: kept

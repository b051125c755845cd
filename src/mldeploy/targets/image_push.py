"""Pushing a deployment image to the user's registry (the Kubernetes target), refused when the image holds a
credential of the host's package indexes anywhere: in its history, its configuration or a file of a layer."""

import io
import json
import tarfile
from collections.abc import Iterator
from typing import IO, Any

from ..environments.registry import index_credentials
from .base import DeploymentError, Progress

CHUNK = 1 << 20
TAR_MAGIC = b"ustar"


class _Chunks(io.RawIOBase):
    """``docker save``'s chunks as a raw stream."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self.chunks, self.pending = chunks, memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self.pending:
            chunk = next(self.chunks, None)
            if chunk is None:
                return 0
            self.pending = memoryview(chunk)
        size = min(len(buffer), len(self.pending))
        buffer[:size], self.pending = self.pending[:size], self.pending[size:]
        return size


def _holds(stream: IO[bytes], needles: list[bytes]) -> bool:
    """Whether ``stream`` holds any of ``needles``, read a chunk at a time (a needle may straddle two)."""
    overlap = max(map(len, needles)) - 1
    tail = b""
    while chunk := stream.read(CHUNK):
        window = tail + chunk
        if any(needle in window for needle in needles):
            return True
        tail = window[-overlap:] if overlap else b""
    return False


def _files_holding(archive: IO[bytes], needles: list[bytes]) -> Iterator[str]:
    """The files of a ``docker save`` archive (a tar of layer tars and metadata) that hold a needle."""
    with tarfile.open(fileobj=archive, mode="r|") as outer:
        for member in outer:
            content = outer.extractfile(member) if member.isfile() else None
            if content is None:
                continue
            if content.peek(512)[257:262] != TAR_MAGIC:  # type: ignore[attr-defined]
                if _holds(content, needles):
                    yield f"the image's metadata {member.name}"
                continue
            with tarfile.open(fileobj=content, mode="r|") as layer:
                for file in layer:
                    data = layer.extractfile(file) if file.isfile() else None
                    if data is not None and _holds(data, needles):
                        yield f"/{file.name}"


def credential_places(client: Any, image: str, secrets: list[str]) -> list[str]:
    """Where ``image`` holds one of ``secrets`` (never quoting it): build steps, configuration fields, files."""
    steps = [str(step.get("CreatedBy", "")) for step in reversed(client.api.history(image))]
    places = [f"step {number} of its history" for number, step in enumerate(steps, 1)
              if any(secret in step for secret in secrets)]  # fmt: skip
    config = client.api.inspect_image(image).get("Config") or {}
    places += [f"its configuration ({field})" for field, value in config.items()
               if any(secret in json.dumps(value) for secret in secrets)]  # fmt: skip
    archive = io.BufferedReader(_Chunks(client.api.get_image(image, chunk_size=CHUNK)), CHUNK)
    places += _files_holding(archive, [secret.encode() for secret in secrets])
    return places


def check_no_credentials(client: Any, image: str, registry: str) -> None:
    """DeploymentError when ``image`` holds a credential of the host's package indexes."""
    secrets = index_credentials()
    places = credential_places(client, image, secrets) if secrets else []
    if places:
        raise DeploymentError(
            f"Refusing to push {image} to {registry}: it holds a credential of your package index (the user "
            f"name or password of an index URL in pip's settings) in {', '.join(places[:5])}. Images built by "
            "mldeploy keep pip's settings in a build stage that no image keeps: deploy again to rebuild it, and "
            "make sure no file of the source directory or of the models holds the credential."
        )


def push_image(docker: Any, image: str, registry: str, progress: Progress) -> str:
    """Tag ``image`` into ``registry`` and push it, unless it holds a credential; the pushed reference, by digest
    when the registry reports one (the pods then run exactly the image pushed, whatever happens to the tag)."""
    progress(f"checking {image} for credentials before pushing it")
    check_no_credentials(docker, image, registry)
    repository, _, tag = image.rpartition(":")
    target = f"{registry.rstrip('/')}/{repository}"
    docker.api.tag(image, target, tag)
    progress(f"pushing {target}:{tag}")
    digest = None
    for line in docker.api.push(target, tag, stream=True, decode=True):
        if "error" in line:
            raise DeploymentError(
                f"Pushing {target}:{tag} failed: {line['error']}. Log in first (`docker login {registry}`), "
                "and check the registry's name."
            )
        digest = (line.get("aux") or {}).get("Digest") or digest
    return f"{target}@{digest}" if digest else f"{target}:{tag}"

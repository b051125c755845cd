"""What to tell about the images commands make: they live in this machine's Docker engine only (mldeploy has
no registry), and how to push them where another machine or a cluster can pull them."""

from pathlib import Path

import yaml

from .output import say

LOCAL_ONLY = "is in this machine's Docker engine only (mldeploy has no registry)"


def push_commands(image: str) -> str:
    return f"docker tag {image} REGISTRY/{image} && docker push REGISTRY/{image}"


def say_image_is_local(image: str) -> None:
    say(f"The image {image} {LOCAL_ONLY}. To run it on another machine, push it: {push_commands(image)}")


def say_base_is_local(base: str) -> None:
    say(f"The Dockerfile builds FROM {base}, which {LOCAL_ONLY}, made from this host's apt sources: build the "
        f"context on this machine (the image you build is local too), or push the base image first, "
        f"{push_commands(base)}, and change the Dockerfile's FROM lines to REGISTRY/{base}.")  # fmt: skip


def say_export_is_local(written: list[Path], registry: str | None) -> None:
    """After ``deploy --export``: without ``--registry`` the manifests name an image no cluster can pull."""
    if registry:
        return
    image = next(
        (manifest["spec"]["template"]["spec"]["containers"][0]["image"] for manifest in map(_load, written)
         if manifest.get("kind") == "Deployment"),
        "the image",
    )  # fmt: skip
    say(f"The service image {image} {LOCAL_ONLY}, so a cluster cannot pull it: deploy with --registry REGISTRY "
        f"(it pushes the image and writes its address into the manifests), or push it yourself, "
        f"{push_commands(image)}, and write REGISTRY/{image} as the Deployment's image.")  # fmt: skip


def _load(path: Path) -> dict:  # type: ignore[type-arg]
    return yaml.safe_load(path.read_text()) or {}

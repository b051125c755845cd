"""Building a deployment image through the engine (``--network host``), with each step shown as progress
and a failed step explained by its last log lines."""

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import BuildError
from . import package

STEP = re.compile(r"^Step (\d+/\d+) : (.*)$")
LAYER = re.compile(r"^ ---> ([0-9a-f]{12,})$")
FAILED_LOG_LINES = 25


def build_image(
    client: Any, context: Path, tag: str, progress: Callable[[str], None], log_file: Path
) -> dict[str, str]:
    """Build ``context`` (its Dockerfile) as ``tag``, keeping the log in ``log_file``. Unchanged layers come
    from the cache. Each step's instruction → the id of the image it made."""
    lines: list[str] = []
    layers: dict[str, str] = {}
    instruction = ""
    for chunk in client.api.build(path=str(context), tag=tag, network_mode="host", rm=True, forcerm=True, decode=True):
        if "error" in chunk:
            lines.append(str(chunk["error"]).strip())
            log_file.write_text("\n".join(lines))
            tail = "\n".join(lines[-FAILED_LOG_LINES:])
            raise BuildError(
                f"The image build failed:\n{tail}\n"
                "A failed `pip install` usually names a package or version that does not exist for Python 3.11 "
                f"on Linux: fix the environment's package list. The whole build log: {log_file}"
            )
        for line in str(chunk.get("stream", "")).splitlines():
            lines.append(line)
            step, layer = STEP.match(line), LAYER.match(line)
            if step:
                instruction = step.group(2)
                progress(f"building the image: step {step.group(1)} {instruction[:60]}")
            elif layer:
                layers[instruction] = layer.group(1)
    log_file.write_text("\n".join(lines))
    return layers


def keep_layer(client: Any, layers: dict[str, str], instruction_prefix: str, reference: str) -> None:
    """Tag the layer made by the step starting with ``instruction_prefix``, so that it (and the build cache
    up to it) outlives the images built on it."""
    for instruction, image_id in layers.items():
        if instruction.startswith(instruction_prefix):
            repository, _, tag = reference.partition(":")
            client.api.tag(image_id, repository, tag)
            return


def build_deployment_image(
    client: Any, context: Path, tag: str, progress: Callable[[str], None], log_file: Path
) -> None:
    """Build a context written by ``package.write_context`` and keep its environment layer, so that other
    deployments with the same packages skip the ``pip install`` even after this image is removed."""
    base = (context / "Dockerfile").read_text().split("\n", 1)[0].removeprefix("FROM ").strip()
    layers = build_image(client, context, tag, progress, log_file)
    keep_layer(client, layers, package.ENVIRONMENT_STEP, package.environment_reference(context, base))

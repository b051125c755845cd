"""Building a deployment image through the engine (``--network host``), with each step shown as progress
and a failed step explained by its last log lines.

The environment is built first, on its own, as ``mldeploy/env:<hash>``, and kept: other deployments with
the same packages start from it and skip the ``pip install``. Its build stage (the one holding the host's
pip settings) is removed once the environment image exists, so no image on this engine keeps them.
"""

import contextlib
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import BuildError
from . import package

STEP = re.compile(r"^Step (\d+/\d+) : (.*)$")
LAYER = re.compile(r"^ ---> ([0-9a-f]{12,})$")
FAILED_LOG_LINES = 25


def build_image(
    client: Any, context: Path, tag: str, progress: Callable[[str], None], log_file: Path, **options: Any
) -> dict[str, str]:
    """Build ``context`` as ``tag`` (``options``: the engine's, e.g. ``dockerfile``, ``buildargs``), keeping
    the log in ``log_file``. Unchanged layers come from the cache. Each step's instruction → the id of the
    image it made."""
    lines: list[str] = []
    layers: dict[str, str] = {}
    instruction = ""
    stream = client.api.build(
        path=str(context), tag=tag, network_mode="host", rm=True, forcerm=True, decode=True, **options
    )
    for chunk in stream:
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


def _remove_build_stage(client: Any, layers: dict[str, str]) -> None:
    """Remove the environment's build stage (and its untagged parents: the pip settings' layers)."""
    from docker.errors import APIError

    for instruction, image_id in layers.items():
        if instruction.startswith(package.ENVIRONMENT_STEP):
            with contextlib.suppress(APIError):  # another build is using it now: its own cleanup removes it
                client.images.remove(image_id)


def build_environment_image(client: Any, context: Path, progress: Callable[[str], None], log_file: Path) -> str:
    """The environment image of ``context`` (built unless an earlier deployment left it); its tag."""
    from docker.errors import ImageNotFound

    with tempfile.TemporaryDirectory(prefix="mldeploy-environment-") as folder:
        reference = package.write_environment_context(context, Path(folder))
        try:
            client.images.get(reference)
            return reference
        except ImageNotFound:
            pass
        progress(f"installing the environment's packages into {reference}")
        _remove_build_stage(client, build_image(client, Path(folder), reference, progress, log_file))
    return reference


def build_deployment_image(
    client: Any, context: Path, tag: str, progress: Callable[[str], None], log_file: Path
) -> None:
    """Build a context written by ``package.write_context`` as ``tag``, on its environment image."""
    environment = build_environment_image(client, context, progress, log_file.with_suffix(".environment.log"))
    options = {"dockerfile": package.APP_DOCKERFILE, "buildargs": {"ENVIRONMENT": environment}}
    build_image(client, context, tag, progress, log_file, **options)

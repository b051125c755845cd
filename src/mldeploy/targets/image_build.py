"""Building a deployment image through the engine (``--network host``), with each step shown as progress
and a failed step explained by its last log lines.

The environment is built first, on its own, as ``mldeploy/env:<hash>``, and kept: other deployments with
the same packages start from it and skip the ``pip install``. The host's pip settings (which may hold an
index's credentials) reach its install step over 127.0.0.1 for the build's duration (build_settings), so no
layer holds them; its build stage is removed once the environment image exists. A failed build's
intermediate images (the steps before the one that failed) are removed too.
"""

import contextlib
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import BuildError
from . import package
from .build_pip import URL_VARIABLE
from .build_settings import served

STEP = re.compile(r"^Step (\d+/\d+) : (.*)$")
LAYER = re.compile(r"^ ---> ([0-9a-f]{12,})$")
FAILED_LOG_LINES = 25


def build_image(
    client: Any, context: Path, tag: str, progress: Callable[[str], None], log_file: Path, **options: Any
) -> dict[str, str]:
    """Build ``context`` as ``tag`` (``options``: the engine's, e.g. ``dockerfile``, ``buildargs``), keeping
    the log in ``log_file``. Unchanged layers come from the cache. Each step's instruction → the id of the
    image it made. A failed build's untagged images are removed (the engine keeps those another image or
    container uses)."""
    lines: list[str] = []
    layers: dict[str, str] = {}
    instruction = ""
    stream = client.api.build(
        path=str(context), tag=tag, network_mode="host", rm=True, forcerm=True, decode=True, **options
    )
    for chunk in stream:
        if "error" in chunk:
            _remove_untagged(client, list(layers.values()))
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


def _remove_untagged(client: Any, images: list[str]) -> None:
    """Remove those of ``images`` that have no tag, the last first (with each, its untagged parents that nothing
    else uses). One that another image or container uses stays (the engine refuses), as does a tagged one."""
    from docker.errors import APIError

    for image_id in reversed(images):
        with contextlib.suppress(APIError):  # gone with a child, used by another build or image, or a conflict
            if not client.images.get(image_id).tags:
                client.images.remove(image_id)


def _remove_build_stage(client: Any, layers: dict[str, str]) -> None:
    """Remove the environment's build stage (and its untagged parents)."""
    _remove_untagged(client, [image for step, image in layers.items() if step.startswith(package.ENVIRONMENT_STEP)])


def build_environment_image(client: Any, context: Path, progress: Callable[[str], None], log_file: Path) -> str:
    """The environment image of ``context`` (built unless an earlier deployment left it); its tag."""
    from docker.errors import ImageNotFound

    settings = package.pip_environment()
    with tempfile.TemporaryDirectory(prefix="mldeploy-environment-") as folder:
        reference = package.write_environment_context(context, Path(folder), settings)
        try:
            client.images.get(reference)
            return reference
        except ImageNotFound:
            pass
        progress(f"installing the environment's packages into {reference}")
        with served(settings) as url:
            layers = build_image(client, Path(folder), reference, progress, log_file, buildargs={URL_VARIABLE: url})
        _remove_build_stage(client, layers)
    return reference


def build_deployment_image(
    client: Any, context: Path, tag: str, progress: Callable[[str], None], log_file: Path
) -> None:
    """Build a context written by ``package.write_context`` as ``tag``, on its environment image."""
    environment = build_environment_image(client, context, progress, log_file.with_suffix(".environment.log"))
    options = {"dockerfile": package.APP_DOCKERFILE, "buildargs": {"ENVIRONMENT": environment}}
    build_image(client, context, tag, progress, log_file, **options)

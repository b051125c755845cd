"""Deployment images: a Docker build context (Dockerfile + files) that plain ``docker build`` accepts.

Layers go from the least to the most often changed, so editing score.py rebuilds only the last one:
environment (pip install), scoring runtime, models, code. Files sit under /var/azureml-app as in v1
images, owned by root and readable by the server's user (uid 10001), which the image runs as.

The packages are installed in a build stage of their own that gets the host's pip settings (which may hold
an index's credentials) and CA bundle; the image keeps only the installed environment. mldeploy builds that
stage on its own as ``mldeploy/env:<hash>`` (from a temporary folder, see image_build) and the rest with
``mldeploy-build/Dockerfile`` on top of it; ``Dockerfile`` at the context's root does both in one plain
``docker build``, for ``mldeploy package --dockerfile``.

The server listens on 0.0.0.0:5001 inside its container (``docker run -p 8000:5001``, as the seed does);
MLDEPLOY_HOST / MLDEPLOY_PORT change that (the Docker target runs images with --network host on 127.0.0.1).
The service keys come at run time in $MLDEPLOY_AUTH_KEYS, never in a layer; an image made to require them
refuses to start without them.
"""

import hashlib
import json
import os
import shutil
from collections.abc import Sequence
from pathlib import Path

from ..environments.advice import runtime_conflict
from ..environments.registry import container_pip_conf, host_ca_bundle
from ..environments.spec import EnvironmentSpec
from ..environments.venv import copy_runtime, runtime_requirements
from ..errors import DeploymentError
from ..scoring.config import ServerConfig
from ..workspace.blobs import BlobStore
from ..workspace.private import write_private
from ..workspace.schema import ModelRow
from . import app_folder

APP_ROOT = "/var/azureml-app"
CONTAINER_PORT = 5001
SERVER_UID = 10001  # the image's user (and group): the scoring server never runs as root
SERVER_USER = "azureml"
BUILD = "mldeploy-build"
ENVIRONMENT = f"{BUILD}/environment"  # the environment stage's files
APP_DOCKERFILE = f"{BUILD}/Dockerfile"  # the image on top of a built environment (ENVIRONMENT build argument)
ENVIRONMENT_STEP = "RUN python3 -m venv /opt/mldeploy/env"
ENVIRONMENT_REPOSITORY = "mldeploy/env"
SERVER_COMMAND = ["/opt/mldeploy/env/bin/python", "-m", "mldeploy.scoring", "/etc/mldeploy/server.json"]
ENVIRONMENT_STAGES = f"""\
FROM {{base}} AS environment
# 1. environment: the user's packages and the scoring runtime's dependencies, installed in this stage with the
#    host's pip settings and CA bundle, which stay here: the image gets only /opt/mldeploy/env
COPY {{files}}ca.crt /etc/mldeploy/ca.crt
COPY {{files}}pip.conf /etc/pip.conf
COPY {{files}}requirements.txt /opt/mldeploy/requirements.txt
{ENVIRONMENT_STEP} \\
 && /opt/mldeploy/env/bin/pip install --no-cache-dir --disable-pip-version-check -r /opt/mldeploy/requirements.txt
FROM {{base}}
RUN groupadd --gid {SERVER_UID} {SERVER_USER} \\
 && useradd --uid {SERVER_UID} --gid {SERVER_UID} --create-home --shell /usr/sbin/nologin {SERVER_USER}
COPY --from=environment /opt/mldeploy/env /opt/mldeploy/env
"""
APP_STEPS = f"""\
# 2. the scoring runtime (mldeploy.scoring only)
COPY {BUILD}/runtime/ /opt/mldeploy/runtime/
# 3. models, 4. code, as in v1 images
COPY models/ {APP_ROOT}/
COPY app/ {APP_ROOT}/
COPY {BUILD}/server.json /etc/mldeploy/server.json
ENV PYTHONPATH=/opt/mldeploy/runtime AML_APP_ROOT={APP_ROOT}
WORKDIR {APP_ROOT}
USER {SERVER_UID}:{SERVER_UID}
EXPOSE {CONTAINER_PORT}
CMD {{command}}
"""


def write_context(
    folder: Path,
    base: str,
    blobs: BlobStore,
    models: Sequence[ModelRow],
    entry_script: str,
    source_directory: str | None,
    spec: EnvironmentSpec | None,
    extra_requirements: Sequence[str] = (),
    require_key: bool = False,
    standalone: bool = False,
) -> ServerConfig:
    """Write the build context into ``folder`` (created); the image's server config.

    ``require_key``: the image's server refuses to start without $MLDEPLOY_AUTH_KEYS (a package; a service's
    target gives its keys itself). ``standalone``: also write the environment stage's pip settings and CA
    bundle, so that ``Dockerfile`` builds with plain ``docker build``."""
    if spec is not None and spec.python not in (None, "3.11"):
        raise DeploymentError(
            f"The container base image has Python 3.11; the environment asks for Python {spec.python}. "
            "Change python= in the conda file to 3.11 (or leave it out)."
        )
    conflict = runtime_conflict(spec) if spec is not None else None
    if conflict:
        raise DeploymentError(conflict)
    try:
        script, source = app_folder.resolve_entry_script(entry_script, source_directory)
    except FileNotFoundError as error:
        raise DeploymentError(str(error)) from None
    build = folder / BUILD
    (folder / ENVIRONMENT).mkdir(parents=True)
    requirements = [*(spec.requirements if spec else ()), *runtime_requirements(), *extra_requirements]
    (folder / ENVIRONMENT / "requirements.txt").write_text("\n".join(requirements) + "\n")
    if standalone:
        write_environment_files(folder / ENVIRONMENT)
    copy_runtime(build / "runtime")
    (folder / "models").mkdir()
    app_folder.copy_models(folder / "models", blobs, models)
    entry = app_folder.copy_code(folder / "app", script, source)
    for part in (build / "runtime", folder / "models", folder / "app"):
        _readable_by_all(part)
    config = ServerConfig(
        entry_script=f"{APP_ROOT}/{entry.relative_to(folder / 'app').as_posix()}",
        app_root=APP_ROOT,
        model_dir=app_folder.model_dir(models) if models else None,
        host="0.0.0.0",
        port=CONTAINER_PORT,
        require_auth=require_key,
    )
    (build / "server.json").write_text(config.to_json())
    app_steps = APP_STEPS.format(command=json.dumps(SERVER_COMMAND))
    stages = ENVIRONMENT_STAGES.format(base=base, files=f"{ENVIRONMENT}/")
    (folder / "Dockerfile").write_text(stages + app_steps)
    (folder / APP_DOCKERFILE).write_text("ARG ENVIRONMENT\nFROM ${ENVIRONMENT}\n" + app_steps)
    return config


def _readable_by_all(folder: Path) -> None:
    """The image's files are root's: the server's user reads them (and runs what the owner could run)."""
    for root, folders, files in os.walk(folder):
        for name in folders:
            Path(root, name).chmod(0o755)
        for name in files:
            path = Path(root, name)
            mode = path.lstat().st_mode
            if not path.is_symlink():
                path.chmod(0o755 if mode & 0o100 else 0o644)
    folder.chmod(0o755)


def write_environment_files(folder: Path) -> None:
    """The environment stage's pip settings (owner-only: they may hold an index's credentials) and CA bundle."""
    shutil.copyfile(host_ca_bundle(), folder / "ca.crt")
    write_private(folder / "pip.conf", container_pip_conf("/etc/mldeploy/ca.crt"))


def base_of(context: Path) -> str:
    """The base image a context written by ``write_context`` builds on."""
    return (context / "Dockerfile").read_text().split("\n", 1)[0].removeprefix("FROM ").split()[0]


def write_environment_context(context: Path, folder: Path) -> str:
    """Write the environment stage of ``context`` alone into ``folder`` (its own build context, with the
    host's pip settings); the tag that keeps the built environment: the same base, packages and index
    settings give the same tag, so any deployment reuses it."""
    shutil.copyfile(context / ENVIRONMENT / "requirements.txt", folder / "requirements.txt")
    write_environment_files(folder)
    (folder / "Dockerfile").write_text(ENVIRONMENT_STAGES.format(base=base_of(context), files=""))
    digest = hashlib.sha256()
    for name in ("Dockerfile", "ca.crt", "pip.conf", "requirements.txt"):
        digest.update((folder / name).read_bytes())
    return f"{ENVIRONMENT_REPOSITORY}:{digest.hexdigest()[:12]}"

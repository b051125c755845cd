"""Deployment images: a Docker build context (Dockerfile + files) that plain ``docker build`` accepts.

Layers go from the least to the most often changed, so editing score.py rebuilds only the last one:
environment (pip install), scoring runtime, models, code. Files sit under /var/azureml-app as in v1
images, owned by root and readable by the server's user (uid 10001), which the image runs as.

The packages are installed in a build stage of their own that gets the host's pip settings (which may hold
an index's credentials) and CA bundle; the image keeps only the installed environment. mldeploy builds that
stage on its own as ``mldeploy/env:<hash>`` (from a temporary folder, see image_build), its pip settings
served to the install step over 127.0.0.1 and never written into a layer (build_settings), and the rest with
``mldeploy-build/Dockerfile`` on top of it. ``Dockerfile`` at the context's root does both in one plain
``docker build``, for ``mldeploy package --dockerfile``: its stage copies ``pip.conf`` from the context.

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
from ..environments.registry import container_pip_conf, container_pip_settings, host_ca_bundle
from ..environments.spec import EnvironmentSpec
from ..environments.venv import copy_runtime, runtime_requirements
from ..errors import DeploymentError
from ..scoring.config import ServerConfig
from ..workspace.blobs import BlobStore
from ..workspace.private import write_private
from ..workspace.schema import ModelRow
from . import app_folder
from .build_pip import URL_VARIABLE

APP_ROOT = "/var/azureml-app"
CA_BUNDLE = "/etc/mldeploy/ca.crt"  # the host's, in the environment stage
CONTAINER_PORT = 5001
SERVER_UID = 10001  # the image's user (and group): the scoring server never runs as root
SERVER_USER = "azureml"
BUILD = "mldeploy-build"
ENVIRONMENT = f"{BUILD}/environment"  # the environment stage's files
APP_DOCKERFILE = f"{BUILD}/Dockerfile"  # the image on top of a built environment (ENVIRONMENT build argument)
ENVIRONMENT_STEP = "RUN python3 -m venv /opt/mldeploy/env"
ENVIRONMENT_REPOSITORY = "mldeploy/env"
PIP = "/opt/mldeploy/env/bin/pip"
BUILD_PIP = "build_pip.py"  # fetches the served pip settings in the install step (build_settings)
SERVER_COMMAND = ["/opt/mldeploy/env/bin/python", "-m", "mldeploy.scoring", "/etc/mldeploy/server.json"]
ENVIRONMENT_STAGES = f"""\
FROM {{base}} AS environment
# 1. environment: the user's packages and the scoring runtime's dependencies, installed in this stage with the
#    host's pip settings and CA bundle, which stay here: the image gets only /opt/mldeploy/env
COPY {{files}}ca.crt {CA_BUNDLE}
COPY {{files}}requirements.txt /opt/mldeploy/requirements.txt
{{settings}}{ENVIRONMENT_STEP} \\
 && {{pip}} install --no-cache-dir --disable-pip-version-check -r /opt/mldeploy/requirements.txt
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

    ``require_key``: the image's server refuses to start without $MLDEPLOY_AUTH_KEYS (a package, or a service
    with auth, whose target gives the keys in the config it mounts). ``standalone``: also write the environment
    stage's pip settings and CA bundle, so that ``Dockerfile`` builds with plain ``docker build``."""
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
    stages = environment_stages(base, f"{ENVIRONMENT}/")
    (folder / "Dockerfile").write_text(stages + app_steps)
    (folder / APP_DOCKERFILE).write_text("ARG ENVIRONMENT\nFROM ${ENVIRONMENT}\n" + app_steps)
    return config


def environment_stages(base: str, files: str, served_settings: bool = False) -> str:
    """The environment's build stage and the image's first steps, with the stage's files in ``files``. Its pip
    settings: ``served_settings``, fetched from mldeploy during the build (an mldeploy build), else copied from
    ``files``/pip.conf (a plain ``docker build``)."""
    if served_settings:
        settings = f"COPY {files}{BUILD_PIP} /etc/mldeploy/{BUILD_PIP}\nARG {URL_VARIABLE}\n"
        pip = f"python3 /etc/mldeploy/{BUILD_PIP} {PIP}"
    else:
        settings, pip = f"COPY {files}pip.conf /etc/pip.conf\n", PIP
    return ENVIRONMENT_STAGES.format(base=base, files=files, settings=settings, pip=pip)


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
    write_private(folder / "pip.conf", container_pip_conf(CA_BUNDLE))


def pip_environment() -> dict[str, str]:
    """The host's pip settings for the environment stage, as pip's PIP_* variables (served, never written)."""
    return {f"PIP_{name.upper().replace('-', '_')}": value for name, value in container_pip_settings(CA_BUNDLE).items()}


def base_of(context: Path) -> str:
    """The base image a context written by ``write_context`` builds on."""
    return (context / "Dockerfile").read_text().split("\n", 1)[0].removeprefix("FROM ").split()[0]


def write_environment_context(context: Path, folder: Path, settings: dict[str, str]) -> str:
    """Write the environment stage of ``context`` alone into ``folder`` (its own build context, whose pip
    ``settings`` are served during the build, not written); the tag that keeps the built environment: the
    same base, packages and index settings give the same tag, so any deployment reuses it."""
    shutil.copyfile(context / ENVIRONMENT / "requirements.txt", folder / "requirements.txt")
    shutil.copyfile(host_ca_bundle(), folder / "ca.crt")
    shutil.copyfile(Path(__file__).with_name(BUILD_PIP), folder / BUILD_PIP)
    (folder / "Dockerfile").write_text(environment_stages(base_of(context), "", served_settings=True))
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode())
    for name in ("Dockerfile", "ca.crt", BUILD_PIP, "requirements.txt"):
        digest.update((folder / name).read_bytes())
    return f"{ENVIRONMENT_REPOSITORY}:{digest.hexdigest()[:12]}"

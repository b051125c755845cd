"""Deployment images: a Docker build context (Dockerfile + files) that plain ``docker build`` accepts.

Layers go from the least to the most often changed, so editing score.py rebuilds only the last one:
environment (pip install), scoring runtime, models, code. Files sit under /var/azureml-app as in v1
images. The server listens on 0.0.0.0:5001 inside its container (``docker run -p 8000:5001``, as the seed
does); MLDEPLOY_HOST / MLDEPLOY_PORT change that (the Docker target runs images with --network host on
127.0.0.1).
"""

import hashlib
import shutil
from collections.abc import Sequence
from pathlib import Path

from ..environments.build import copy_runtime, runtime_requirements
from ..environments.registry import container_pip_conf, host_ca_bundle
from ..environments.spec import EnvironmentSpec
from ..errors import DeploymentError
from ..scoring.config import ServerConfig
from ..workspace.blobs import BlobStore
from ..workspace.schema import ModelRow
from . import app_folder

APP_ROOT = "/var/azureml-app"
CONTAINER_PORT = 5001
BUILD = "mldeploy-build"
CA_IN_IMAGE = "/etc/mldeploy/ca.crt"
ENVIRONMENT_STEP = "RUN python3 -m venv /opt/mldeploy/env"
ENVIRONMENT_FILES = ("ca.crt", "pip.conf", "requirements.txt")
ENVIRONMENT_REPOSITORY = "mldeploy/env"
DOCKERFILE = f"""\
FROM {{base}}
# 1. environment: the user's packages and the scoring runtime's dependencies
COPY {BUILD}/ca.crt {CA_IN_IMAGE}
COPY {BUILD}/pip.conf /etc/pip.conf
COPY {BUILD}/requirements.txt /opt/mldeploy/requirements.txt
{ENVIRONMENT_STEP} \\
 && /opt/mldeploy/env/bin/pip install --no-cache-dir --disable-pip-version-check -r /opt/mldeploy/requirements.txt
# 2. the scoring runtime (mldeploy.scoring only)
COPY {BUILD}/runtime/ /opt/mldeploy/runtime/
# 3. models, 4. code, as in v1 images
COPY models/ {APP_ROOT}/
COPY app/ {APP_ROOT}/
COPY {BUILD}/server.json /etc/mldeploy/server.json
ENV PYTHONPATH=/opt/mldeploy/runtime AML_APP_ROOT={APP_ROOT}
WORKDIR {APP_ROOT}
EXPOSE {CONTAINER_PORT}
CMD ["/opt/mldeploy/env/bin/python", "-m", "mldeploy.scoring", "/etc/mldeploy/server.json"]
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
) -> ServerConfig:
    """Write the build context (``Dockerfile`` and files) into ``folder`` (created); the image's server config."""
    if spec is not None and spec.python not in (None, "3.11"):
        raise DeploymentError(
            f"The container base image has Python 3.11; the environment asks for Python {spec.python}. "
            "Change python= in the conda file to 3.11 (or leave it out)."
        )
    try:
        script, source = app_folder.resolve_entry_script(entry_script, source_directory)
    except FileNotFoundError as error:
        raise DeploymentError(str(error)) from None
    build = folder / BUILD
    build.mkdir(parents=True)
    shutil.copyfile(host_ca_bundle(), build / "ca.crt")
    (build / "pip.conf").write_text(container_pip_conf(CA_IN_IMAGE))
    requirements = [*(spec.requirements if spec else ()), *runtime_requirements(), *extra_requirements]
    (build / "requirements.txt").write_text("\n".join(requirements) + "\n")
    copy_runtime(build / "runtime")
    (folder / "models").mkdir()
    app_folder.copy_models(folder / "models", blobs, models)
    entry = app_folder.copy_code(folder / "app", script, source)
    config = ServerConfig(
        entry_script=f"{APP_ROOT}/{entry.relative_to(folder / 'app').as_posix()}",
        app_root=APP_ROOT,
        model_dir=app_folder.model_dir(models) if models else None,
        host="0.0.0.0",
        port=CONTAINER_PORT,
    )
    (build / "server.json").write_text(config.to_json())
    (folder / "Dockerfile").write_text(DOCKERFILE.format(base=base))
    return config


def environment_reference(folder: Path, base: str) -> str:
    """The tag that keeps the environment layer of the context in ``folder``: the same base, packages and
    index settings give the same tag, so any deployment reuses it."""
    digest = hashlib.sha256(base.encode())
    for name in ENVIRONMENT_FILES:
        digest.update((folder / BUILD / name).read_bytes())
    return f"{ENVIRONMENT_REPOSITORY}:{digest.hexdigest()[:12]}"

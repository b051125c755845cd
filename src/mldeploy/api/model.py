"""``Model``: register, find, list, download and delete models as the v1 SDK does."""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import BuildError, DockerUnavailable, InvalidName, ModelError, ModelInUse, StoreError
from ..progress import Steps
from ..targets import app_folder, deployments
from ..targets.base import DeploymentError, Plan, Progress
from ..wording import phrase
from ..workspace import models
from ..workspace.schema import ModelRow
from ..workspace.services import ServiceRecord, services_using
from ..workspace.services import check_name as check_service_name
from .deploy_config import check_settings
from .webservice import Webservice, WebserviceException, console

if TYPE_CHECKING:
    from .environment import Environment
    from .inference_config import InferenceConfig
    from .package import ModelPackage
    from .workspace import Workspace


def registered_rows(workspace: Workspace, ids: Sequence[str], service: str | None = None) -> list[ModelRow]:
    """The registered models of "name:version" ids, as stored now; WebserviceException for one deleted meanwhile
    (for ``service``'s own models: what that means for the service, and how to give another)."""
    rows = []
    for model_id in ids:
        try:
            rows.append(_find(workspace, model_id))
        except ModelError:
            raise WebserviceException(missing_model(model_id, service)) from None
    return rows


def _find(workspace: Workspace, model_id: str) -> ModelRow:
    name, _, version = model_id.partition(":")
    return models.find(workspace._store.sessions, name, int(version) if version else None)


def unregistered(workspace: Workspace, record: ServiceRecord) -> list[str]:
    """What to know about each model that ``record`` deploys and that is not registered any more."""
    found = []
    for model_id in record.models:
        try:
            _find(workspace, model_id)
        except ModelError:
            found.append(missing_model(model_id, record.name))
    return found


def missing_model(model_id: str, service: str | None) -> str:
    if service is None:
        return f"Model {model_id!r} is not registered any more (it was deleted); give a registered one instead."
    given = phrase(
        api="service.update(models=[Model(ws, NAME, version=N)])",
        cli=f"mldeploy service update {service} --model NAME:VERSION",
    )
    return (
        f"Service {service!r} deploys model {model_id!r}, which is not registered any more (it was deleted with "
        "force): the service keeps serving its own copy, but a change that keeps this model (an update without "
        f"models) cannot be made. Fix: give it a registered model: {given}."
    )


def plan_for(
    workspace: Workspace,
    rows: list[ModelRow],
    inference_config: InferenceConfig | None,
    settings: dict[str, Any],
    current: ServiceRecord | None = None,
) -> Plan:
    """A deployment plan from v1 objects. For an update of ``current``, what the inference config leaves None
    (all of it, without one) is the service's: its entry script, source directory and environment."""
    from .inference_config import InferenceConfig

    config = inference_config or InferenceConfig()
    if current is not None:
        entry_script, source_directory = app_folder.updated_code(current, config.entry_script, config.source_directory)
        environment = config.environment or _environment_of(workspace, current)
    else:
        entry_script = _script(config, "deploy")
        source_directory, environment = config.source_directory, config.environment
    if environment is None:
        return Plan(rows, entry_script, source_directory, settings=settings)
    try:
        environment.register(workspace)
    except (InvalidName, StoreError) as error:
        raise WebserviceException(str(error)) from None

    def build(progress: Progress) -> Path:
        return environment.build_local(workspace, progress)

    label = f"{environment.name}:{environment.version}"
    return Plan(rows, entry_script, source_directory, label, build, environment.spec, settings)


def _script(config: InferenceConfig, call: str) -> str:
    """The entry script, which a deploy or a package needs."""
    if not config.entry_script:
        raise WebserviceException(
            phrase(api=f"Model.{call} needs an InferenceConfig(entry_script=...).", cli="Give --entry-script.")
        )
    return config.entry_script


def _environment_of(workspace: Workspace, record: ServiceRecord) -> Environment | None:
    """The registered environment that service ``record`` runs in (None: the one mldeploy runs in)."""
    from .environment import Environment

    if not record.environment:
        return None
    name, _, version = record.environment.partition(":")
    return Environment.get(workspace, name, int(version) if version else None)


class Model:
    """A registered model version. ``Model(ws, name)`` is the latest version; ``version=`` or ``id="name:3"``."""

    def __init__(
        self,
        workspace: Workspace,
        name: str | None = None,
        id: str | None = None,
        version: int | None = None,
    ) -> None:
        if id is not None:
            name, _, number = id.partition(":")
            version = int(number) if number else version
        if not name:
            raise models.ModelError("Model(workspace, name=...) needs a model name (or id='name:version').")
        self._set(workspace, models.find(workspace._store.sessions, name, version))

    @classmethod
    def _from_row(cls, workspace: Workspace, row: ModelRow) -> Model:
        model = cls.__new__(cls)
        model._set(workspace, row)
        return model

    def _set(self, workspace: Workspace, row: ModelRow) -> None:
        self.workspace = workspace
        self._row = row
        self.name: str = row.name
        self.version: int = row.version
        self.id = f"{row.name}:{row.version}"
        self.tags: dict[str, Any] = dict(row.tags)
        self.properties: dict[str, Any] = dict(row.properties)
        self.description = row.description
        self.created_time: datetime.datetime = row.created_time

    @staticmethod
    def register(
        workspace: Workspace,
        model_path: str | Path,
        model_name: str,
        tags: dict[str, Any] | None = None,
        properties: dict[str, Any] | None = None,
        description: str | None = None,
    ) -> Model:
        """Register a file or a folder as the next version of ``model_name``."""
        store = workspace._store
        row = models.register(store.blobs, store.writes, Path(model_path), model_name, tags, properties, description)
        return Model._from_row(workspace, row)

    @staticmethod
    def list(
        workspace: Workspace, name: str | None = None, tags: Sequence[Any] | None = None, latest: bool = False
    ) -> list[Model]:
        rows = models.search(workspace._store.sessions, name, tags, latest)
        return [Model._from_row(workspace, row) for row in rows]

    @property
    def files(self) -> list[str]:
        """The model's files as laid out under azureml-models/<name>/<version>/."""
        return [file.path for file in self._row.files]

    def download(self, target_dir: str | Path = ".", exist_ok: bool = False) -> str:
        """Copy the model's files into ``target_dir``; the path of the model file or folder."""
        return str(models.download(self.workspace._store.blobs, self._row, Path(target_dir), exist_ok))

    def delete(self, force: bool = False) -> None:
        """Delete this version. While services of this workspace deploy it, ModelInUse names them, unless
        ``force`` (mldeploy's addition): they keep serving their own copy, but a change that keeps this model
        (an update without ``models``) then asks for another."""
        users = services_using(self.workspace.path, self.id)
        if users and not force:
            anyway = phrase(api="model.delete(force=True)", cli=f"mldeploy model delete {self.id} --force")
            raise ModelInUse(
                f"Model {self.id!r} is deployed by service(s) {', '.join(users)}: update them with another model or "
                f"delete them first, or delete it anyway with {anyway} (they keep serving their own copy of it)."
            )
        models.delete(self.workspace._store.writes, self._row)

    @staticmethod
    def package(
        workspace: Workspace,
        models: Sequence[Model],
        inference_config: InferenceConfig,
        generate_dockerfile: bool = False,
        image_name: str | None = None,
        auth_enabled: bool = True,
    ) -> ModelPackage:
        """A Docker image of ``models`` + ``inference_config`` (or, with ``generate_dockerfile=True``, the
        Dockerfile and context that ``docker build --network host`` accepts as they are). ``auth_enabled``
        (mldeploy's addition): the image serves /score with a new key, given at run time (``.run_command``)."""
        from .package import make_package

        _script(inference_config, "package")
        rows = registered_rows(workspace, [model.id for model in models])
        return make_package(workspace, rows, inference_config, generate_dockerfile, image_name, auth_enabled)

    @staticmethod
    def deploy(
        workspace: Workspace,
        name: str,
        models: Sequence[Model],
        inference_config: InferenceConfig | None = None,
        deployment_config: dict[str, Any] | None = None,
        deployment_target: object = None,
        overwrite: bool = False,
        show_output: bool = False,
    ) -> Webservice:
        """Deploy ``models`` with ``inference_config`` as service ``name``: local processes
        (``LocalWebservice.deploy_configuration``) or a Docker container (``AciWebservice.deploy_configuration``)."""
        try:
            check_service_name(name)  # before its environment, named after it, is registered
        except ValueError as error:
            raise WebserviceException(str(error)) from None
        kind = getattr(deployment_config, "target", "local")
        if deployment_target is not None:
            if kind != "kubernetes":
                raise WebserviceException(
                    "deployment_target names a Kubernetes cluster: pass AksWebservice.deploy_configuration(...) "
                    "as deployment_config, or leave deployment_target out."
                )
            if isinstance(deployment_target, str):  # a kubeconfig context name
                deployment_config = type(deployment_config)({**deployment_config, "context": deployment_target})
        check_settings(deployment_config or {})
        rows = registered_rows(workspace, [model.id for model in models])
        plan = plan_for(workspace, rows, inference_config, dict(deployment_config or {}))
        status = Steps(console, f"deploying {name}") if show_output else nullcontext()
        try:
            with status as spinner:
                progress = (lambda step: spinner.update(f"{name}: {step}")) if spinner else (lambda step: None)
                record = deployments.deploy(workspace._store, name, plan, overwrite, progress, kind)
        except (DeploymentError, DockerUnavailable, BuildError) as error:
            raise WebserviceException(str(error)) from None
        service = Webservice.of(workspace, record)
        service._deploying = True
        return service

    def serialize(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "id": self.id,
            "tags": self.tags,
            "properties": self.properties,
            "description": self.description,
            "createdTime": self.created_time.isoformat(),
            "files": self.files,
        }

    def __repr__(self) -> str:
        return (
            f"Model(workspace={self.workspace!r}, name={self.name}, id={self.id}, version={self.version}, "
            f"tags={self.tags}, properties={self.properties})"
        )


def export_manifests(
    workspace: Workspace,
    name: str,
    models: Sequence[Model],
    inference_config: InferenceConfig,
    deployment_config: dict[str, Any],
    folder: str | Path,
) -> list[Path]:
    """Build (and push) the image, then write the service's Kubernetes objects as YAML files into ``folder``,
    in apply order, for ``kubectl apply -f folder``; no cluster is needed."""
    rows = registered_rows(workspace, [model.id for model in models])
    plan = plan_for(workspace, rows, inference_config, dict(deployment_config))
    try:
        return deployments.export(workspace._store, name, plan, Path(folder), lambda step: None)
    except (DeploymentError, DockerUnavailable, BuildError) as error:
        raise WebserviceException(str(error)) from None

"""Web services: ``Webservice`` (lookup and the running service), ``LocalWebservice`` (local processes) and
``AciWebservice`` (a Docker container), with their v1 ``deploy_configuration`` functions."""

from __future__ import annotations

import json
import urllib.error
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from typing import TYPE_CHECKING, Any

from rich.console import Console

from ..errors import BuildError, DockerUnavailable, WebserviceException
from ..progress import Steps
from ..targets import deployments
from ..targets.base import DeploymentError, Progress
from ..targets.keys import key_index, new_key
from ..wording import phrase
from ..workspace.services import ServiceNotFound, ServiceRecord, load, load_all
from . import deploy_config
from .debugging import print_launch_configuration

if TYPE_CHECKING:
    from .inference_config import InferenceConfig
    from .model import Model
    from .workspace import Workspace

DEFAULT_TIMEOUT_S = 600
DIAGNOSE_WAIT_S = 2
TARGET_FAILURES = (DeploymentError, DockerUnavailable, BuildError)
console = Console(stderr=True, soft_wrap=True)


class Webservice:
    """A deployed service. ``Webservice(ws, name)`` finds one deployed by any process."""

    compute_type = "Local"
    _deploying = False  # made by Model.deploy in this process, not awaited yet

    def __new__(cls, workspace: Workspace, name: str) -> Webservice:
        try:
            record = load(workspace.path, name)
        except ServiceNotFound as error:
            raise WebserviceException(str(error)) from None
        return Webservice.of(workspace, record)

    @staticmethod
    def of(workspace: Workspace, record: ServiceRecord) -> Webservice:
        """The service object for a stored record: a LocalWebservice or an AciWebservice."""
        kinds = {"docker": AciWebservice, "kubernetes": AksWebservice}
        service = object.__new__(kinds.get(record.target, LocalWebservice))
        service.workspace = workspace
        service._record = record
        service._target = deployments.target_of(record.target)
        return service

    @staticmethod
    def list(workspace: Workspace) -> list[Webservice]:
        return [Webservice.of(workspace, record) for record in load_all(workspace.path)]

    @property
    def name(self) -> str:
        return self._record.name

    @property
    def port(self) -> int:
        return self._record.port

    @property
    def scoring_uri(self) -> str:
        return self._record.scoring_uri

    @property
    def swagger_uri(self) -> str:
        return self._record.scoring_uri.replace("/score", "/swagger.json")

    @property
    def state(self) -> str:
        return str(self._target.state(self._record))

    @property
    def models(self) -> list[str]:
        return list(self._record.models)

    @property
    def tags(self) -> dict[str, str]:
        return dict(self._record.deployment_config.get("tags") or {})

    @property
    def description(self) -> str | None:
        return self._record.deployment_config.get("description")

    @contextmanager
    def _reporting(self, show_output: bool) -> Iterator[Progress]:
        """The progress of a change that ends with the service healthy, shown with ``show_output`` (and how it
        ended); the target's failure becomes a WebserviceException."""
        status = Steps(console, f"service {self.name}: starting") if show_output else nullcontext()
        try:
            with status as spinner:
                yield (lambda step: spinner.update(f"service {self.name}: {step}")) if spinner else (lambda step: None)
        except TARGET_FAILURES as error:
            if show_output:
                console.print(f"[red]Failed[/red]\n{error}", highlight=False)
            raise WebserviceException(str(error)) from None
        if show_output:
            console.print(f"[green]Healthy[/green]: {self.scoring_uri}", highlight=False)

    def _wait(
        self, show_output: bool, generation: int = 0, timeout_s: float = DEFAULT_TIMEOUT_S, deploying: bool = False
    ) -> None:
        if show_output and self._record.deployment_config.get("debug"):
            print_launch_configuration(console, self._record)
        with self._reporting(show_output) as progress:
            hold = deployments.awaiting(self.workspace.path, self._record, progress) if deploying else nullcontext()
            with hold:
                self._target.wait(self._record, timeout_s, progress, generation)

    @contextmanager
    def _changing(self) -> Iterator[None]:
        """Change this service alone: wait while another process changes it, then work on its record as stored
        now (another process may have updated, redeployed or deleted it since this object was made)."""
        try:
            with deployments.changing(self.workspace.path, self.name, lambda step: console.print(step)) as record:
                self._record = record
                yield
        except ServiceNotFound as error:
            raise WebserviceException(str(error)) from None

    def wait_for_deployment(self, show_output: bool = False, timeout_sec: float | None = None) -> None:
        """Wait until the service answers (Healthy) or fails (with the cause, at once: no waiting for a timeout).
        The first wait for a service that ``Model.deploy`` made holds its name, as the deploy did: another
        deploy of it waits, then refuses; one that replaced it in between is reported."""
        deploying, self._deploying = self._deploying, False
        self._wait(show_output, timeout_s=timeout_sec or DEFAULT_TIMEOUT_S, deploying=deploying)

    def start(self, show_output: bool = False, timeout_sec: float | None = None) -> bool:
        """Start the service again when its server is not running (it died, or the machine restarted): the same
        code, models, settings and port, nothing rebuilt. Returns once it is healthy: True, or False when it was
        running already (mldeploy's addition; local and Docker services)."""
        try:
            with self._reporting(show_output) as progress:
                started = deployments.start(self.workspace.path, self.name, progress, timeout_sec or DEFAULT_TIMEOUT_S)
                self._record = load(self.workspace.path, self.name)
        except ServiceNotFound as error:
            raise WebserviceException(str(error)) from None
        return started

    def post(self, body: bytes) -> bytes:
        """Send ``body`` to the service (with the primary key when auth is on); the answer's bytes
        (WebserviceException unless 200)."""
        try:
            status, payload = self._target.post(self._record, body)
        except (urllib.error.URLError, OSError) as error:
            why = phrase(api="service.diagnose() and service.get_logs()", cli=f"mldeploy diagnose {self.name}")
            raise WebserviceException(
                f"Service {self.name} did not answer at {self.scoring_uri} ({error}); its state is {self.state}. "
                f"Why: {why}."
            ) from None
        if status != 200:
            detail = payload.decode(errors="replace")
            raise WebserviceException(f"Received bad response from service {self.name}: {status} {detail}")
        return payload

    def run(self, input_data: Any) -> Any:
        """Score ``input_data`` (str, bytes, or anything JSON-serializable); the decoded JSON answer."""
        if isinstance(input_data, str):
            body = input_data.encode()
        elif isinstance(input_data, bytes | bytearray):
            body = bytes(input_data)
        else:
            body = json.dumps(input_data).encode()
        payload = self.post(body)
        try:
            return json.loads(payload)
        except ValueError:
            return payload.decode(errors="replace")

    def get_logs(self, num_lines: int = 5000) -> str:
        """The server's log: the log file (local), the container's log with every restart (docker)."""
        try:
            return self._target.logs(self._record, num_lines)
        except TARGET_FAILURES as error:
            raise WebserviceException(str(error)) from None

    def reload(self, wait: bool = True) -> None:
        """Pick up an edited score.py (and source directory) without rebuilding the environment."""
        with self._changing():
            try:
                generation = deployments.reload(self._record)
            except TARGET_FAILURES as error:
                raise WebserviceException(str(error)) from None
            if wait:
                self._wait(False, generation)

    def update(
        self,
        models: Sequence[Model] | None = None,
        inference_config: InferenceConfig | None = None,
        deployment_config: dict[str, Any] | None = None,
    ) -> None:
        """Swap models, code, environment or settings (locally the old workers serve until the new are ready;
        a container hands its port over to the new one once it is ready: no request fails). What is not given
        is kept: the models without ``models``; the entry script, source directory and environment that
        ``inference_config`` leaves None; the settings that a ``deploy_configuration(...)`` was not given (a
        plain dict changes each setting it holds)."""
        from .model import plan_for, registered_rows

        with self._changing():
            current = self._record
            ids = current.models if models is None else [model.id for model in models]
            settings = deployments.updated_settings(current, deploy_config.changes(deployment_config))
            deploy_config.check_settings(settings)
            plan = plan_for(
                self.workspace,
                registered_rows(self.workspace, ids, self.name if models is None else None),
                inference_config,
                settings,
                current,
            )
            try:
                generation = deployments.update(self.workspace._store, current, plan, lambda step: None)
                self._wait(False, generation)
            except TARGET_FAILURES as error:
                raise WebserviceException(str(error)) from None
            deployments.finish_update(current)

    def get_keys(self) -> tuple[str, str]:
        """(primary, secondary): send one as ``Authorization: Bearer <key>``."""
        if not self._record.keys and self._record.target == "local":
            raise WebserviceException(
                f"Service {self.name} has no keys: a local service never requires one (as in v1). For a key, "
                + phrase(
                    api="deploy it with AciWebservice.deploy_configuration(auth_enabled=True).",
                    cli=f"deploy it again with --target docker --auth --overwrite (mldeploy deploy {self.name} ...).",
                )
            )
        if not self._record.keys:
            raise WebserviceException(
                f"Service {self.name} has no keys: auth is not enabled. Turn it on: "
                + phrase(
                    api="service.update(deployment_config=AciWebservice.deploy_configuration(auth_enabled=True)).",
                    cli=f"mldeploy service update {self.name} --auth",
                )
            )
        primary, secondary = self._record.keys
        return primary, secondary

    def regen_key(self, key: str, set_key: str | None = None) -> None:
        """Replace the "Primary" or "Secondary" key (with ``set_key``, or a new random one); requests with the
        old key get 401 once this returns."""
        with self._changing():
            keys = list(self.get_keys())
            try:
                keys[key_index(key)] = set_key or new_key()
                generation = deployments.set_keys(self._record, keys)
            except TARGET_FAILURES as error:
                raise WebserviceException(str(error)) from None
            self._wait(False, generation)

    def diagnose(self) -> list[str]:
        """What keeps the service from being healthy or from being changed, each with its cause, evidence and fix
        (empty: nothing)."""
        from .model import unregistered

        return self._target_diagnoses() + unregistered(self.workspace, self._record)

    def _target_diagnoses(self) -> list[str]:
        diagnoses = getattr(self._target, "diagnoses", None)
        try:
            if diagnoses is not None:
                return list(diagnoses(self._record))
            self._target.wait(self._record, DIAGNOSE_WAIT_S, lambda step: None)
        except TARGET_FAILURES as error:
            return [str(error)]
        return []

    def delete(self) -> None:
        """Stop the service and remove it; a deploy or update of it running in another process finishes first."""
        with self._changing():
            try:
                deployments.delete(self._record)
            except DockerUnavailable as error:
                raise WebserviceException(str(error)) from None

    def serialize(self) -> dict[str, Any]:
        record = self._record
        description = {
            "name": self.name,
            "computeType": self.compute_type,
            "state": self.state,
            "scoringUri": self.scoring_uri,
            "port": self.port,
            "models": self.models,
            "environment": record.environment,
            "authEnabled": bool(record.keys),
            "tags": self.tags,
            "description": self.description,
        }
        if record.target == "docker":
            settings = record.deployment_config
            description.update(
                cpuCores=settings.get("cpu_cores"), memoryGb=settings.get("memory_gb"), image=record.image
            )
        return description

    def __repr__(self) -> str:
        return f"{type(self).__name__}(workspace={self.workspace!r}, name={self.name}, state={self.state})"


class LocalWebservice(Webservice):
    """A service running as local processes."""

    deploy_configuration = staticmethod(deploy_config.local_configuration)


class AciWebservice(Webservice):
    """A service running in a Docker container with CPU and memory limits (the ACI equivalent)."""

    compute_type = "ACI"
    deploy_configuration = staticmethod(deploy_config.aci_configuration)


class AksWebservice(Webservice):
    """A service on a Kubernetes cluster (the AKS equivalent): Deployment, Service, Secret, autoscaler."""

    compute_type = "AKS"
    deploy_configuration = staticmethod(deploy_config.aks_configuration)

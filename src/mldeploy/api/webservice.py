"""Web services: ``LocalWebservice`` (deploy configuration and the running service) and ``Webservice`` lookup."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Sequence
from contextlib import nullcontext
from typing import TYPE_CHECKING, Any

from rich.console import Console

from ..targets import deployments
from ..targets.base import DeploymentError
from ..targets.local import LocalTarget
from ..workspace.services import ServiceNotFound, ServiceRecord, load, load_all

if TYPE_CHECKING:
    from .inference_config import InferenceConfig
    from .model import Model
    from .workspace import Workspace

DEFAULT_TIMEOUT_S = 600
console = Console(stderr=True, soft_wrap=True)


class WebserviceException(Exception):
    """A service that cannot be deployed, found or called; the message is the cause and the fix."""


class LocalServiceDeploymentConfiguration(dict):  # type: ignore[type-arg]
    """Settings of a local deployment (a dict: port, workers, debug_errors)."""


class Webservice:
    """A deployed service. ``Webservice(ws, name)`` finds one deployed by any process."""

    def __new__(cls, workspace: Workspace, name: str) -> Webservice:
        try:
            record = load(workspace.path, name)
        except ServiceNotFound as error:
            raise WebserviceException(str(error)) from None
        return Webservice.of(workspace, record)

    @staticmethod
    def of(workspace: Workspace, record: ServiceRecord) -> Webservice:
        """The service object for a stored record (local processes: a LocalWebservice)."""
        service = object.__new__(LocalWebservice)
        service.workspace = workspace
        service._record = record
        service._target = LocalTarget()
        return service

    @staticmethod
    def list(workspace: Workspace) -> list[Webservice]:
        return [Webservice.of(workspace, record) for record in load_all(workspace.path)]

    @property
    def name(self) -> str:
        return self._record.name

    @property
    def compute_type(self) -> str:
        return "Local"

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

    def _wait(self, show_output: bool, generation: int = 0, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        status = console.status(f"service {self.name}: starting") if show_output else nullcontext()
        try:
            with status as spinner:
                self._target.wait(
                    self._record, timeout_s, lambda step: spinner.update(f"service {self.name}: {step}") if spinner
                    else None, generation,
                )  # fmt: skip
        except DeploymentError as error:
            if show_output:
                console.print(f"[red]Failed[/red]\n{error}", highlight=False)
            raise WebserviceException(str(error)) from None
        if show_output:
            console.print(f"[green]Healthy[/green]: {self.scoring_uri}", highlight=False)

    def wait_for_deployment(self, show_output: bool = False, timeout_sec: float | None = None) -> None:
        """Wait until the service answers (Healthy) or fails (with the cause, at once: no waiting for a timeout)."""
        self._wait(show_output, timeout_s=timeout_sec or DEFAULT_TIMEOUT_S)

    def post(self, body: bytes) -> bytes:
        """Send ``body`` to the scoring URI; the answer's bytes (WebserviceException unless 200)."""
        request = urllib.request.Request(
            self.scoring_uri, data=body, method="POST", headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=DEFAULT_TIMEOUT_S) as answer:
                return bytes(answer.read())
        except urllib.error.HTTPError as error:
            detail = error.read().decode(errors="replace")
            raise WebserviceException(
                f"Received bad response from service {self.name}: {error.code} {detail}"
            ) from None
        except (urllib.error.URLError, OSError) as error:
            raise WebserviceException(
                f"Service {self.name} did not answer at {self.scoring_uri} ({error}); its state is {self.state}. "
                f"See service.get_logs()."
            ) from None

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
        return self._target.logs(self._record, num_lines)

    def reload(self, wait: bool = True) -> None:
        """Pick up an edited score.py (and source directory) without rebuilding anything."""
        try:
            generation = deployments.reload(self._record)
        except DeploymentError as error:
            raise WebserviceException(str(error)) from None
        if wait:
            self._wait(False, generation)

    def update(
        self,
        models: Sequence[Model] | None = None,
        inference_config: InferenceConfig | None = None,
        deployment_config: dict[str, Any] | None = None,
    ) -> None:
        """Swap models, code, environment or settings; the old workers serve until the new ones are ready."""
        from .model import plan_for, rows_of

        current = self._record
        plan = plan_for(
            self.workspace,
            rows_of(self.workspace, current.models) if models is None else [model._row for model in models],
            inference_config,
            {**current.deployment_config, **(deployment_config or {})},
            current,
        )
        try:
            generation = deployments.update(self.workspace._store, current, plan, lambda step: None)
            self._wait(False, generation)
        except DeploymentError as error:
            raise WebserviceException(str(error)) from None
        deployments.finish_update(current)

    def delete(self) -> None:
        deployments.delete(self.workspace._store, self._record)

    def serialize(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "computeType": self.compute_type,
            "state": self.state,
            "scoringUri": self.scoring_uri,
            "port": self.port,
            "models": self.models,
            "environment": self._record.environment,
        }

    def __repr__(self) -> str:
        return f"LocalWebservice(workspace={self.workspace!r}, name={self.name}, state={self.state})"


class LocalWebservice(Webservice):
    """A service running as local processes."""

    @staticmethod
    def deploy_configuration(port: int | None = None, workers: int = 1, debug_errors: bool = False) -> dict[str, Any]:
        return LocalServiceDeploymentConfiguration(port=port, workers=workers, debug_errors=debug_errors)

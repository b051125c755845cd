"""What every target does with a service, the plan it deploys, and the states it reports (the v1 names)."""

import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

from ..environments.spec import EnvironmentSpec
from ..errors import DeploymentError
from ..scoring.config import ServerConfig
from ..wording import phrase
from ..workspace.blobs import BlobStore
from ..workspace.schema import ModelRow
from ..workspace.services import ServiceRecord

TRACEBACK_LINES = 8
SCORING_TIMEOUT_S = 600
Progress = Callable[[str], None]
Builder = Callable[[Progress], Path | None]  # builds the environment: its folder, or None for this interpreter


@dataclass
class Plan:
    """What a deployment runs: models, code, environment and settings, all resolved."""

    models: list[ModelRow]
    entry_script: str
    source_directory: str | None = None
    environment: str | None = None  # "name:version", for the record
    build_environment: Builder | None = None  # local: a virtual environment on this host
    spec: EnvironmentSpec | None = None  # docker: installed in the image
    settings: dict[str, Any] = field(default_factory=dict)  # port, workers, debug_errors, cpu_cores, ...


class ServiceState(StrEnum):
    TRANSITIONING = "Transitioning"
    HEALTHY = "Healthy"
    UNHEALTHY = "Unhealthy"
    FAILED = "Failed"
    STOPPED = "Stopped"  # local, Docker: the server ended cleanly, as asked (SIGTERM, `docker stop`, a shutdown)
    DELETING = "Deleting"


def not_running(record: ServiceRecord) -> DeploymentError:
    """The error for a change asked of a service whose server is not running: start it first."""
    start = phrase(api="service.start()", cli=f"mldeploy service start {record.name}")
    return DeploymentError(f"Service {record.name!r} is not running; start it first: {start}.")


def post(url: str, body: bytes, headers: dict[str, str], context: Any = None) -> tuple[int, bytes]:
    """POST ``body`` as JSON; (status, answer body). URLError / OSError when nothing answers."""
    request = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": "application/json",
                                                                             **headers})  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=SCORING_TIMEOUT_S, context=context) as answer:
            return answer.status, bytes(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, bytes(error.read())


def post_direct(record: ServiceRecord, body: bytes) -> tuple[int, bytes]:
    """To a server this host reaches (local, Docker): the primary key, if any, as ``Authorization: Bearer``."""
    headers = {"Authorization": f"Bearer {record.keys[0]}"} if record.keys else {}
    return post(record.scoring_uri, body, headers)


def healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as answer:
            return answer.status == 200
    except (urllib.error.URLError, OSError):
        return False


def failure_message(record: ServiceRecord, report: dict | None, log: str, headline: str = "") -> str:  # type: ignore[type-arg]
    """The cause in plain words: the server's own report (file, line, why, fix, traceback's last lines), else
    the last lines of ``log``."""
    if not report:
        tail = "\n".join(log.splitlines()[-20:])
        return f"{headline or f'Service {record.name!r} stopped before it became healthy.'} Last log lines:\n{tail}"
    frames = [line for line in report.get("traceback", "").rstrip().splitlines() if line.strip()][-TRACEBACK_LINES:]
    fix = no_model_fix(record, report) or str(report.get("fix", ""))
    parts = [headline or f"Service {record.name!r} failed to start.", *report.get("summary", []), fix]
    if frames:
        parts += ["Traceback (last lines):", *frames]
    parts.append("Full log: " + phrase(api="service.get_logs()", cli=f"mldeploy service logs {record.name}"))
    return "\n".join(part for part in parts if part)


def fails_on_missing_model_folder(report: dict[str, Any]) -> bool:
    """The init() failure of ``report`` comes from reading a model folder that is not there (AZUREML_MODEL_DIR
    unset, a None path, or Model.get_model_path finding nothing)."""
    text = "\n".join([*report.get("summary", []), report.get("traceback", "")])
    none_path = report.get("exception") == "TypeError" and "NoneType" in text
    return "AZUREML_MODEL_DIR" in text or none_path or report.get("exception") == "ModelNotFoundError"


def no_model_fix(record: ServiceRecord, report: dict[str, Any]) -> str | None:
    """For a service deployed without a model whose script failed on the model folder (AZUREML_MODEL_DIR unset,
    a None path, or Model.get_model_path finding nothing): that no model was given, where it is read, the fix."""
    if record.models or not fails_on_missing_model_folder(report):
        return None
    where = f"{Path(str(report.get('file', ''))).name}, line {report.get('line')}"
    deploy = phrase(
        api=f"ws.webservices[{record.name!r}].update(models=[model]), or Model.deploy(ws, {record.name!r}, [model], "
        "inference_config, overwrite=True)",
        cli=f"mldeploy service update {record.name} --model NAME[:VERSION] (or deploy it again with --model)",
    )
    return (
        "No model was given to this deployment, so AZUREML_MODEL_DIR is not set and there is no model folder: "
        f"{where} looks for the model there. Fix: give the service the model the script loads: {deploy}."
    )


class Target(Protocol):
    """What the deployment flow asks of a target (local processes, Docker containers)."""

    def admit(self, settings: dict[str, Any], port: int, current: ServiceRecord | None) -> None:
        """Refuse, before anything is made, what cannot run (port taken, resources short)."""

    def prepare(self, blobs: BlobStore, record: ServiceRecord, plan: Plan, progress: Progress) -> ServerConfig:
        """Make ``record.revision``'s files (app folder, environment, image); the server's config."""

    def start(self, record: ServiceRecord, config: ServerConfig) -> None: ...
    def running(self, record: ServiceRecord) -> bool:
        """The service's server (process, container) is running, healthy or not (local and Docker: a Kubernetes
        cluster restarts its pods itself)."""

    def apply(self, record: ServiceRecord, config: ServerConfig) -> int:
        """Make the running service use ``config`` and the current revision; the generation to wait past."""

    def reload(self, record: ServiceRecord) -> int:
        """Pick up the edited code of the current revision; the generation to wait past."""

    def state(self, record: ServiceRecord) -> ServiceState: ...
    def post(self, record: ServiceRecord, body: bytes) -> tuple[int, bytes]:
        """Send a scoring request the way this target is reached; (status, answer body)."""

    def wait(self, record: ServiceRecord, timeout_s: float, progress: Progress, generation: int = 0) -> None: ...
    def logs(self, record: ServiceRecord, num_lines: int) -> str: ...
    def signal_reload(self, record: ServiceRecord) -> int: ...
    def stop(self, record: ServiceRecord) -> None: ...

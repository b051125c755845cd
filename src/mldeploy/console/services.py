"""What the console shows of services, read through the workspace and the targets (any process may change a
service meanwhile: every view reads it anew), and the changes it asks of them through the v1 API."""

import contextlib
import datetime
import json
import re
import shlex
import time
import urllib.error
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from ..api.webservice import Webservice, WebserviceException
from ..api.workspace import Workspace
from ..errors import DockerUnavailable, ServiceNotFound
from ..targets.base import DeploymentError, ServiceState
from ..targets.deployments import target_of
from ..workspace.services import ServiceRecord, check_name, load, load_all

TROUBLED = (ServiceState.FAILED, ServiceState.UNHEALTHY)
EXPLAINED = (*TROUBLED, ServiceState.STOPPED)  # shown with the diagnosis: why, and how to start it again
EXCEPTION_LINE = re.compile(r"^\w[\w.]*(Error|Exception|Exit|Interrupt)\b.*$", re.MULTILINE)
VIEW_THREADS = 8
HIDDEN_SETTINGS = ("primary_key", "secondary_key", "previous_app")


@dataclass
class ServiceView:
    name: str
    target: str
    state: str
    scoring_uri: str
    models: list[str]
    environment: str | None
    updated: str
    diagnosis: list[str] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)
    auth: bool = False

    @property
    def troubled(self) -> bool:
        return self.state in TROUBLED

    @property
    def failure(self) -> str:
        """The diagnosis of a failure in one line: its exception line when it has one, else its first line."""
        if not self.troubled or not self.diagnosis:
            return ""
        found = EXCEPTION_LINE.search(self.diagnosis[0])
        return found.group(0) if found else self.diagnosis[0].splitlines()[0]


def record_of(workspace: Workspace, name: str) -> ServiceRecord:
    """ServiceNotFound (its message lists the services there are) when the service is gone, or when ``name``
    cannot be a service's name."""
    try:
        check_name(name)
    except ValueError as error:
        raise ServiceNotFound(str(error)) from None
    return load(workspace.path, name)


def _updated(record: ServiceRecord) -> str:
    try:
        moment = (record.path / "service.json").stat().st_mtime
    except OSError:
        return ""
    return datetime.datetime.fromtimestamp(moment).strftime("%Y-%m-%d %H:%M:%S")


def _state(record: ServiceRecord) -> str:
    """The target's state of the service; Unhealthy when the target does not answer (its diagnosis says why)."""
    from urllib3.exceptions import HTTPError  # a Kubernetes API server that does not answer, as its client raises it

    try:
        return str(target_of(record.target).state(record))
    except (DeploymentError, DockerUnavailable, OSError, HTTPError):
        return str(ServiceState.UNHEALTHY)


def view(workspace: Workspace, record: ServiceRecord, detailed: bool = False) -> ServiceView:
    """A service as it is now; its diagnosis when it is Failed, Unhealthy or Stopped (what `mldeploy diagnose`
    says)."""
    state = _state(record)
    shown = ServiceView(
        name=record.name,
        target=record.target,
        state=state,
        scoring_uri=record.scoring_uri,
        models=list(record.models),
        environment=record.environment,
        updated=_updated(record),
        auth=bool(record.keys),
    )
    if state in EXPLAINED:
        shown.diagnosis = Webservice.of(workspace, record).diagnose()
    if detailed:
        settings = record.deployment_config
        shown.settings = {key: value for key, value in settings.items()
                          if key not in HIDDEN_SETTINGS and value not in (None, "", {}, [])}  # fmt: skip
        shown.settings.update({"entry_script": record.entry_script} if record.entry_script else {})
    return shown


def views(workspace: Workspace) -> list[ServiceView]:
    """Every service, read side by side (a target that is slow to answer does not hold the others up)."""
    records = load_all(workspace.path)
    with ThreadPoolExecutor(max_workers=VIEW_THREADS) as pool:
        return list(pool.map(lambda record: view(workspace, record), records))


def curl_command(record: ServiceRecord, sample: str) -> str:
    """The command that calls the service as the console's test form does (the key left for the reader)."""
    parts = ["curl", "-X", "POST", "-H", "Content-Type: application/json"]
    if record.keys:
        parts += ["-H", "Authorization: Bearer $KEY"]
    command = shlex.join([*parts, "-d", sample or "{}", record.scoring_uri])
    return command.replace("'Authorization: Bearer $KEY'", '"Authorization: Bearer $KEY"')


@dataclass
class Answer:
    """What the service answered to the test form (``status`` 0: it did not answer)."""

    status: int
    milliseconds: float
    body: str

    @property
    def ok(self) -> bool:
        return self.status == 200


def send(record: ServiceRecord, body: bytes) -> Answer:
    """Send ``body`` as ``service.run`` does (the target's own way, with the primary key when auth is on)."""
    started = time.perf_counter()
    try:
        status, payload = target_of(record.target).post(record, body)
    except (urllib.error.URLError, OSError, DeploymentError, DockerUnavailable) as error:
        reason = getattr(error, "reason", error)
        elapsed = (time.perf_counter() - started) * 1000
        return Answer(0, elapsed, f"Service {record.name!r} did not answer at {record.scoring_uri}: {reason}")
    elapsed = (time.perf_counter() - started) * 1000
    text = payload.decode(errors="replace")
    with contextlib.suppress(ValueError):  # else shown as it came
        text = json.dumps(json.loads(text), indent=2)
    return Answer(status, elapsed, text)


def act(workspace: Workspace, name: str, action: str, key: str = "Primary") -> str:
    """Reload, regenerate a key or delete service ``name``; what happened, in one sentence (WebserviceException
    with the cause when it could not be done)."""
    try:
        service = Webservice.of(workspace, record_of(workspace, name))
    except ServiceNotFound as error:
        raise WebserviceException(str(error)) from None
    if action == "reload":
        service.reload()
        return f"{name} reloaded: the edited scoring script is serving."
    if action == "regen":
        service.regen_key(key)
        return f"{name}: a new {key.lower()} key is in use; the old one is refused from now on."
    if action == "delete":
        service.delete()
        return f"{name} deleted."
    raise WebserviceException(f"Unknown action {action!r}: the console knows reload, regen and delete.")


def keys(workspace: Workspace, name: str) -> tuple[str, str]:
    return Webservice.of(workspace, record_of(workspace, name)).get_keys()

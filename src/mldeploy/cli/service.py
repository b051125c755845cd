"""``mldeploy service``: inspect, call, reload, update, start and delete deployed services."""

import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ..progress import Steps
from .deploy import (
    AuthOption,
    CondaOption,
    CpuOption,
    EntryOption,
    GpuOption,
    MaxReplicasOption,
    MemoryOption,
    MinReplicasOption,
    ModelsOption,
    PipOption,
    ReplicasOption,
    RequestsPerWorkerOption,
    ResponseOption,
    Settings,
    SourceOption,
    UtilizationOption,
    WorkerRssOption,
    WorkersOption,
    check_service_name,
    environment_given,
    limits_given,
)
from .model import registered
from .output import EXIT_FAILED, EXIT_NOT_FOUND, Format, OutputOption, err, fail, out, say, show
from .state import workspace

if TYPE_CHECKING:
    from ..workspace.services import ServiceRecord

app = typer.Typer(help="Inspect, call, reload, update, start and delete deployed services.", no_args_is_help=True)
COLUMNS = ["name", "computeType", "state", "scoringUri", "models", "environment"]
KINDS = {"Local": "local", "ACI": "docker", "AKS": "kubernetes"}  # compute type → target
LOG_LINES = 500  # read to find what run() raised
EXCEPTION = re.compile(r"^\w[\w.]*(Error|Exception|Interrupt|Exit)\b.*", re.MULTILINE)
USER_FRAME = re.compile(r'^\s*File "(?P<file>[^"]+)", line (?P<line>\d+), in (?P<function>\S+)', re.MULTILINE)


NameArgument = Annotated[str, typer.Argument(metavar="NAME", help="The service's name.")]


class KeyName(StrEnum):
    primary = "primary"
    secondary = "secondary"


def _service(ctx: typer.Context, name: str):  # type: ignore[no-untyped-def]
    from ..api.webservice import Webservice, WebserviceException

    check_service_name(name)
    try:
        return Webservice(workspace(ctx), name)
    except WebserviceException as error:
        fail(str(error), EXIT_NOT_FOUND)


@contextmanager
def _failures() -> Iterator[None]:
    """A service that cannot be changed or called: its message on stderr, exit code 1."""
    from ..api.webservice import WebserviceException

    try:
        yield
    except WebserviceException as error:
        fail(str(error), EXIT_FAILED)


@app.command()
def diagnose(ctx: typer.Context, name: NameArgument) -> None:
    """Explain what keeps the service from being healthy: cause, evidence and fix (exit 1 if anything)."""
    found = _service(ctx, name).diagnose()
    if not found:
        out.print(f"{name}: healthy, nothing to diagnose")
        return
    typer.echo("\n\n".join(found))
    raise typer.Exit(EXIT_FAILED)


@app.command(name="list")
def list_services(ctx: typer.Context, output: OutputOption = Format.table) -> None:
    """List services with their state."""
    from ..api.webservice import Webservice

    show([service.serialize() for service in Webservice.list(workspace(ctx))], COLUMNS, output)


@app.command(name="show")
def show_service(ctx: typer.Context, name: NameArgument, output: OutputOption = Format.table) -> None:
    """Show one service."""
    show([_service(ctx, name).serialize()], [*COLUMNS, "port"], output)


@app.command()
def logs(
    ctx: typer.Context,
    name: NameArgument,
    tail: Annotated[int, typer.Option(min=1, help="How many of the last lines.")] = 200,
) -> None:
    """Print the service's log (server and workers; a container's log holds every restart)."""
    with _failures():
        typer.echo(_service(ctx, name).get_logs(num_lines=tail))


def _request_body(data: str | None) -> bytes:
    if data not in (None, "-"):
        return data.encode()
    if sys.stdin.isatty():
        fail("Give the request body as an argument, e.g. mldeploy service run NAME '{\"data\": [[1, 2]]}', or pipe "
             "it in: mldeploy service run NAME < request.json")  # fmt: skip
    if data is None:
        say("Reading the request body from standard input (give it as an argument instead, or '-').")
    return sys.stdin.buffer.read()


def _what_run_raised(log: str) -> str:
    """The last exception in the log, as its last line and the innermost frame of the scoring script."""
    tracebacks = log.rsplit("Traceback (most recent call last):", 1)
    if len(tracebacks) < 2:
        return ""
    exception = EXCEPTION.search(tracebacks[1])
    frames = list(USER_FRAME.finditer(tracebacks[1]))
    if exception is None:
        return ""
    where = f" ({frames[-1]['file']}, line {frames[-1]['line']}, in {frames[-1]['function']})" if frames else ""
    return f"\nrun() raised {exception.group(0).strip()}{where}."


@app.command()
def run(
    ctx: typer.Context,
    name: NameArgument,
    data: Annotated[
        str | None, typer.Argument(help="The request body; '-' or absent: read it from standard input (piped).")
    ] = None,
) -> None:
    """Send one request to the service and print its answer's body as it came."""
    from ..api.webservice import WebserviceException

    service = _service(ctx, name)
    try:
        answer = service.post(_request_body(data))
    except WebserviceException as error:
        raised = ""
        if re.search(r"\b500\b", str(error)):
            with _failures():
                raised = _what_run_raised(service.get_logs(num_lines=LOG_LINES))
        fail(f"{error}{raised}\nThe whole log: mldeploy service logs {name}", EXIT_FAILED)
    typer.echo(answer.decode(errors="replace"))


@app.command()
def reload(ctx: typer.Context, name: NameArgument) -> None:
    """Pick up an edited scoring script (and source folder) without rebuilding anything."""
    with _failures():
        _service(ctx, name).reload()
    out.print(f"{name}: reloaded")


def _update_settings(
    record: "ServiceRecord", kind: str, workers: int | None, settings: Settings, limits: dict[str, Any]
) -> dict[str, Any] | None:
    """The settings to change; exit 2 when the service's settings with them could not work."""
    from ..targets.server_limits import LimitError, check_limits

    name = record.name
    given = settings.given(kind, name) | limits
    if workers is not None:
        if kind == "kubernetes":
            fail(f"--workers does not apply to {name}, a kubernetes service: set --replicas or --max-replicas.")
        given["workers"] = workers
    if kind == "kubernetes":  # the limits follow the requests, as when deployed; fixed replicas stop autoscaling
        given.update({f"{key}_limit": given[key] for key in ("cpu_cores", "memory_gb") if key in given})
        given.update({"autoscale_enabled": False} if "num_replicas" in given else {})
    try:
        check_limits(record.deployment_config | given)  # its advice: printed by the update
    except LimitError as error:
        fail(str(error))
    return given or None


def _check_code(record: "ServiceRecord", entry_script: str | None, source_dir: str | None) -> None:
    """Exit 2 unless the update's scoring script (given, or the service's) is found."""
    from ..targets.app_folder import resolve_entry_script, updated_code

    try:
        resolve_entry_script(*updated_code(record, entry_script, source_dir))
    except FileNotFoundError as error:
        kept = record.source_directory if source_dir is None else None
        fail(f"{error}" + (f" Without --source-dir, the service's ({kept}) is kept." if kept else ""))


@app.command()
def update(
    ctx: typer.Context,
    name: NameArgument,
    model: ModelsOption = None,
    entry_script: EntryOption = None,
    source_dir: SourceOption = None,
    conda_file: CondaOption = None,
    pip_requirements: PipOption = None,
    workers: WorkersOption = None,
    cpu: CpuOption = None,
    memory: MemoryOption = None,
    gpu: GpuOption = None,
    replicas: ReplicasOption = None,
    min_replicas: MinReplicasOption = None,
    max_replicas: MaxReplicasOption = None,
    target_utilization: UtilizationOption = None,
    auth: AuthOption = None,
    max_requests_per_worker: RequestsPerWorkerOption = None,
    max_worker_rss_mb: WorkerRssOption = None,
    max_response_mb: ResponseOption = None,
) -> None:
    """Swap models, code, environment or settings (workers, CPU, memory, auth, replicas, worker recycling);
    requests keep being served during the swap (a container hands its port over to the new one: no request
    fails). What is not given is kept: without --source-dir the service's source folder (a new --entry-script
    is relative to it), without --entry-script its scoring script, without --conda-file or --pip-requirements
    its environment."""
    from ..api.inference_config import InferenceConfig
    from ..workspace.services import load

    service = _service(ctx, name)
    record = load(workspace(ctx).path, name)
    settings = Settings(cpu, memory, gpu, replicas, min_replicas, max_replicas, target_utilization, auth)
    limits = limits_given(max_requests_per_worker, max_worker_rss_mb, max_response_mb)
    changes = _update_settings(record, KINDS[service.compute_type], workers, settings, limits)
    config = None
    if entry_script or source_dir or conda_file or pip_requirements:
        _check_code(record, entry_script, source_dir)
        config = InferenceConfig(entry_script, source_dir, environment_given(name, conda_file, pip_requirements))
    found = registered(ctx, model) if model else None
    with _failures():
        service.update(found, config, changes)
    out.print(f"{name}: updated")


@app.command()
def keys(
    ctx: typer.Context,
    name: NameArgument,
    regen: Annotated[
        KeyName | None, typer.Option(case_sensitive=False, help="Replace this key first: primary or secondary.")
    ] = None,
) -> None:
    """Print the service's primary and secondary keys (send one as `Authorization: Bearer KEY`)."""
    service = _service(ctx, name)
    with _failures():
        if regen:
            service.regen_key(regen.value)
        primary, secondary = service.get_keys()
    typer.echo(f"primary: {primary}\nsecondary: {secondary}")


def _start_all(ctx: typer.Context) -> None:
    from ..api.webservice import DEFAULT_TIMEOUT_S
    from ..targets.deployments import start_all

    with Steps(err, "starting every local and docker service whose server is not running") as steps:
        started = start_all(workspace(ctx).path, steps.update, DEFAULT_TIMEOUT_S)
    if not started:
        say("Every local and docker service is running already: none needed starting.")
    for name, cause in started.items():
        if cause is None:
            out.print(f"{name}: started", highlight=False)
        else:
            err.print(f"[red]error:[/red] {name}: not started. {cause}", highlight=False)
    if any(started.values()):
        raise typer.Exit(EXIT_FAILED)


@app.command()
def start(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Argument(metavar="NAME", help="The service's name.")] = None,
    every: Annotated[
        bool, typer.Option("--all", help="Every local and docker service whose server is not running.")
    ] = False,
) -> None:
    """Start a service whose server is not running (it died, or the machine restarted) with the same code,
    models, settings and port, nothing rebuilt; --all: every local and docker service that needs it."""
    from ..api.webservice import WebserviceException

    if (name is None) != every:
        fail("Give the service's NAME, or --all for every service whose server is not running (not both).")
    if name is None:
        _start_all(ctx)
        return
    service = _service(ctx, name)
    try:
        started = service.start(show_output=True)
    except WebserviceException:
        raise typer.Exit(EXIT_FAILED) from None  # start() has printed the cause
    out.print(f"{name}: {'started' if started else 'running already'}")


@app.command()
def delete(ctx: typer.Context, name: NameArgument) -> None:
    """Stop the service and remove it."""
    with _failures():
        _service(ctx, name).delete()
    out.print(f"{name}: deleted")

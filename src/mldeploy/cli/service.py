"""``mldeploy deploy`` and ``mldeploy service``: deploy, inspect, call, reload, update and delete services."""

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from ..errors import ModelError
from .env import load as load_environment
from .output import EXIT_NOT_FOUND, Format, OutputOption, fail, out, show
from .state import workspace


class Target(StrEnum):
    local = "local"
    docker = "docker"


app = typer.Typer(help="Inspect, call, reload, update and delete deployed services.", no_args_is_help=True)
COLUMNS = ["name", "computeType", "state", "scoringUri", "models", "environment"]
EXIT_DEPLOYMENT_FAILED = 1

ModelsOption = Annotated[list[str] | None, typer.Option("--model", "-m", help="NAME or NAME:VERSION (repeatable).")]
EntryOption = Annotated[str | None, typer.Option(help="The scoring script (relative to --source-dir if given).")]
SourceOption = Annotated[str | None, typer.Option(help="Folder copied into the app (the v1 source_directory).")]
CondaOption = Annotated[Path | None, typer.Option(help="The environment as a conda specification.")]
PipOption = Annotated[Path | None, typer.Option(help="The environment as pip requirements.")]
WorkersOption = Annotated[int | None, typer.Option(help="Worker processes.")]


def models(ctx: typer.Context, references: list[str]) -> list[Any]:
    from ..api.model import Model

    found = []
    for reference in references:
        name, _, version = reference.partition(":")
        try:
            found.append(Model(workspace(ctx), name, version=int(version) if version.isdigit() else None))
        except ModelError as error:
            fail(str(error), EXIT_NOT_FOUND)
    return found


def inference_config(name: str, entry_script: str, source_dir: str | None, conda: Path | None, pip: Path | None):  # type: ignore[no-untyped-def]
    from ..api.inference_config import InferenceConfig

    environment = load_environment(f"{name}-env", conda, pip) if conda or pip else None
    return InferenceConfig(entry_script, source_dir, environment)


def _service(ctx: typer.Context, name: str):  # type: ignore[no-untyped-def]
    from ..api.webservice import Webservice, WebserviceException

    try:
        return Webservice(workspace(ctx), name)
    except WebserviceException as error:
        fail(str(error), EXIT_NOT_FOUND)


def _failed(error: Exception) -> None:
    fail(str(error), EXIT_DEPLOYMENT_FAILED)


def _deployment_config(target: Target, port: int | None, workers: int | None, cpu: float | None,
                       memory: float | None, auth: bool, debug: bool):  # type: ignore[no-untyped-def]  # fmt: skip
    from ..api.webservice import AciWebservice, LocalWebservice

    if target is Target.local:
        if cpu is not None or memory is not None or auth or debug:
            fail("--cpu, --memory, --auth and --debug apply to containers: add --target docker.")
        return LocalWebservice.deploy_configuration(port=port, workers=workers or 1)
    return AciWebservice.deploy_configuration(
        cpu_cores=cpu, memory_gb=memory, auth_enabled=auth, port=port, workers=workers or 1, debug=debug
    )


def deploy(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The service's name (3-32 lowercase letters, digits, dashes).")],
    model: ModelsOption = None,
    entry_script: EntryOption = None,
    source_dir: SourceOption = None,
    conda_file: CondaOption = None,
    pip_requirements: PipOption = None,
    target: Annotated[Target, typer.Option(help="Local processes, or a Docker container (as ACI).")] = Target.local,
    port: Annotated[int | None, typer.Option(help="Port on 127.0.0.1 (default: a free one).")] = None,
    workers: WorkersOption = None,
    cpu: Annotated[float | None, typer.Option(help="Container CPU cores (default 0.1).")] = None,
    memory: Annotated[float | None, typer.Option(help="Container memory in GB (default 0.5).")] = None,
    auth: Annotated[bool, typer.Option("--auth", help="Require a key (see `mldeploy service keys`).")] = False,
    debug: Annotated[
        bool, typer.Option("--debug", help="Wait for VS Code (debugpy on 127.0.0.1:5678) before init().")
    ] = False,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace a service of that name.")] = False,
) -> None:
    """Deploy models and a scoring script as a service (local processes or a container), and wait until it
    answers."""
    from ..api.model import Model
    from ..api.webservice import WebserviceException

    if entry_script is None:
        fail("Give the scoring script with --entry-script score.py.")
    if conda_file and pip_requirements:
        fail("Give at most one of --conda-file and --pip-requirements.")
    deployment = _deployment_config(target, port, workers, cpu, memory, auth, debug)
    config = inference_config(name, entry_script, source_dir, conda_file, pip_requirements)
    try:
        service = Model.deploy(
            workspace(ctx), name, models(ctx, model or []), config, deployment, overwrite=overwrite, show_output=True
        )
        service.wait_for_deployment(show_output=True)
    except WebserviceException as error:
        _failed(error)
    out.print(f"{service.name}: {service.scoring_uri}", highlight=False)


@app.command(name="list")
def list_services(ctx: typer.Context, output: OutputOption = Format.table) -> None:
    """List services with their state."""
    from ..api.webservice import Webservice

    show([service.serialize() for service in Webservice.list(workspace(ctx))], COLUMNS, output)


@app.command(name="show")
def show_service(ctx: typer.Context, name: str, output: OutputOption = Format.table) -> None:
    """Show one service."""
    show([_service(ctx, name).serialize()], [*COLUMNS, "port"], output)


@app.command()
def logs(
    ctx: typer.Context,
    name: str,
    tail: Annotated[int, typer.Option(help="How many of the last lines.")] = 200,
) -> None:
    """Print the service's log (server and workers; a container's log holds every restart)."""
    from ..api.webservice import WebserviceException

    try:
        typer.echo(_service(ctx, name).get_logs(num_lines=tail))
    except WebserviceException as error:
        _failed(error)


@app.command()
def run(
    ctx: typer.Context,
    name: str,
    data: Annotated[str | None, typer.Argument(help="The request body; '-' or absent: standard input.")] = None,
) -> None:
    """Send one request to the service and print its answer's body as it came."""
    from ..api.webservice import WebserviceException

    body = sys.stdin.read() if data in (None, "-") else data
    try:
        answer = _service(ctx, name).post(body.encode())
    except WebserviceException as error:
        _failed(error)
    typer.echo(answer.decode(errors="replace"))


@app.command()
def reload(ctx: typer.Context, name: str) -> None:
    """Pick up an edited scoring script (and source folder) without rebuilding anything."""
    from ..api.webservice import WebserviceException

    try:
        _service(ctx, name).reload()
    except WebserviceException as error:
        _failed(error)
    out.print(f"{name}: reloaded")


@app.command()
def update(
    ctx: typer.Context,
    name: str,
    model: ModelsOption = None,
    entry_script: EntryOption = None,
    source_dir: SourceOption = None,
    conda_file: CondaOption = None,
    pip_requirements: PipOption = None,
    workers: WorkersOption = None,
) -> None:
    """Swap models, code, environment or workers; requests keep being served during the swap."""
    from ..api.webservice import WebserviceException

    service = _service(ctx, name)
    config = None
    if entry_script or source_dir or conda_file or pip_requirements:
        if entry_script is None:
            fail("With --source-dir, --conda-file or --pip-requirements, give --entry-script too.")
        config = inference_config(name, entry_script, source_dir, conda_file, pip_requirements)
    try:
        service.update(models(ctx, model) if model else None, config, {"workers": workers} if workers else None)
    except WebserviceException as error:
        _failed(error)
    out.print(f"{name}: updated")


@app.command()
def keys(
    ctx: typer.Context,
    name: str,
    regen: Annotated[str | None, typer.Option(help="Replace this key first: primary or secondary.")] = None,
) -> None:
    """Print the service's primary and secondary keys (send one as `Authorization: Bearer KEY`)."""
    from ..api.webservice import WebserviceException

    service = _service(ctx, name)
    try:
        if regen:
            service.regen_key(regen)
        primary, secondary = service.get_keys()
    except WebserviceException as error:
        _failed(error)
    typer.echo(f"primary: {primary}\nsecondary: {secondary}")


@app.command()
def delete(ctx: typer.Context, name: str) -> None:
    """Stop the service and remove it."""
    from ..api.webservice import WebserviceException

    try:
        _service(ctx, name).delete()
    except WebserviceException as error:
        _failed(error)
    out.print(f"{name}: deleted")

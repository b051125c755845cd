"""``mldeploy deploy`` and ``mldeploy service``: deploy, inspect, call, reload, update and delete services."""

import sys
from collections.abc import Iterator
from contextlib import contextmanager
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
    kubernetes = "kubernetes"


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


@contextmanager
def _failures() -> Iterator[None]:
    """A service that cannot be deployed or called: its message on stderr, exit code 1."""
    from ..api.webservice import WebserviceException

    try:
        yield
    except WebserviceException as error:
        fail(str(error), EXIT_DEPLOYMENT_FAILED)


def _deployment_config(target: Target, port: int | None, workers: int | None, resources: dict[str, Any],
                       cluster: dict[str, Any], auth: bool | None, debug: bool):  # type: ignore[no-untyped-def]  # fmt: skip
    from ..api.webservice import AciWebservice, AksWebservice, LocalWebservice

    given = {key: value for key, value in resources.items() if value is not None}
    if target is Target.local:
        if given or auth or debug:
            fail("--cpu, --memory, --gpu, --replicas, --auth and --debug apply to containers: add --target docker "
                 "or --target kubernetes.")  # fmt: skip
        return LocalWebservice.deploy_configuration(port=port, workers=workers or 1)
    if target is Target.docker:
        if "gpu_cores" in given or "num_replicas" in given:
            fail("--gpu and --replicas apply to --target kubernetes.")
        return AciWebservice.deploy_configuration(auth_enabled=auth, port=port, workers=workers or 1, debug=debug,
                                                  **given)  # fmt: skip
    return AksWebservice.deploy_configuration(auth_enabled=auth, **given, **cluster)


def deploy(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The service's name (3-32 lowercase letters, digits, dashes).")],
    model: ModelsOption = None,
    entry_script: EntryOption = None,
    source_dir: SourceOption = None,
    conda_file: CondaOption = None,
    pip_requirements: PipOption = None,
    target: Annotated[Target, typer.Option(help="Local processes, a Docker container (ACI), or Kubernetes (AKS).")] = (
        Target.local
    ),
    port: Annotated[int | None, typer.Option(help="Port on 127.0.0.1 (default: a free one).")] = None,
    workers: WorkersOption = None,
    cpu: Annotated[float | None, typer.Option(help="CPU cores (default 0.1).")] = None,
    memory: Annotated[float | None, typer.Option(help="Memory in GB (default 0.5).")] = None,
    gpu: Annotated[int | None, typer.Option(help="Kubernetes: GPUs per replica (nvidia.com/gpu).")] = None,
    replicas: Annotated[int | None, typer.Option(help="Kubernetes: fixed replicas (default: autoscale 1-10).")] = None,
    auth: Annotated[
        bool | None, typer.Option("--auth/--no-auth", help="Require a key (docker: off, kubernetes: on by default).")
    ] = None,
    debug: Annotated[
        bool, typer.Option("--debug", help="Docker: wait for VS Code (debugpy on 127.0.0.1:5678) before init().")
    ] = False,
    context: Annotated[str | None, typer.Option(help="Kubernetes: the kubeconfig context.")] = None,
    namespace: Annotated[str | None, typer.Option(help="Kubernetes: the namespace (default: default).")] = None,
    registry: Annotated[str | None, typer.Option(help="Kubernetes: push the image to this registry.")] = None,
    export: Annotated[
        Path | None, typer.Option(help="Kubernetes: write the manifests (YAML) here instead of applying them.")
    ] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace a service of that name.")] = False,
) -> None:
    """Deploy models and a scoring script as a service (local processes, a container, or Kubernetes), and
    wait until it answers."""
    from ..api.model import Model, export_manifests

    if entry_script is None:
        fail("Give the scoring script with --entry-script score.py.")
    if conda_file and pip_requirements:
        fail("Give at most one of --conda-file and --pip-requirements.")
    if (context or namespace or registry or export) and target is not Target.kubernetes:
        fail("--context, --namespace, --registry and --export apply to --target kubernetes.")
    resources = {"cpu_cores": cpu, "memory_gb": memory, "gpu_cores": gpu, "num_replicas": replicas}
    cluster = {"context": context, "namespace": namespace, "registry": registry}
    deployment = _deployment_config(target, port, workers, resources, cluster, auth, debug)
    config = inference_config(name, entry_script, source_dir, conda_file, pip_requirements)
    with _failures():
        if export is not None:
            written = export_manifests(workspace(ctx), name, models(ctx, model or []), config, deployment, export)
            out.print(f"Wrote {len(written)} manifests to {export}; apply them with: kubectl apply -f {export}")
            return
        service = Model.deploy(
            workspace(ctx), name, models(ctx, model or []), config, deployment, overwrite=overwrite, show_output=True
        )
        service.wait_for_deployment(show_output=True)
    out.print(f"{service.name}: {service.scoring_uri}", highlight=False)


@app.command()
def diagnose(ctx: typer.Context, name: str) -> None:
    """Explain what keeps the service from being healthy: cause, evidence and fix (exit 1 if anything)."""
    found = _service(ctx, name).diagnose()
    if not found:
        out.print(f"{name}: healthy, nothing to diagnose")
        return
    typer.echo("\n\n".join(found))
    raise typer.Exit(EXIT_DEPLOYMENT_FAILED)


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
    with _failures():
        typer.echo(_service(ctx, name).get_logs(num_lines=tail))


@app.command()
def run(
    ctx: typer.Context,
    name: str,
    data: Annotated[str | None, typer.Argument(help="The request body; '-' or absent: standard input.")] = None,
) -> None:
    """Send one request to the service and print its answer's body as it came."""
    body = sys.stdin.read() if data in (None, "-") else data
    with _failures():
        answer = _service(ctx, name).post(body.encode())
    typer.echo(answer.decode(errors="replace"))


@app.command()
def reload(ctx: typer.Context, name: str) -> None:
    """Pick up an edited scoring script (and source folder) without rebuilding anything."""
    with _failures():
        _service(ctx, name).reload()
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
    service = _service(ctx, name)
    config = None
    if entry_script or source_dir or conda_file or pip_requirements:
        if entry_script is None:
            fail("With --source-dir, --conda-file or --pip-requirements, give --entry-script too.")
        config = inference_config(name, entry_script, source_dir, conda_file, pip_requirements)
    with _failures():
        service.update(models(ctx, model) if model else None, config, {"workers": workers} if workers else None)
    out.print(f"{name}: updated")


@app.command()
def keys(
    ctx: typer.Context,
    name: str,
    regen: Annotated[str | None, typer.Option(help="Replace this key first: primary or secondary.")] = None,
) -> None:
    """Print the service's primary and secondary keys (send one as `Authorization: Bearer KEY`)."""
    service = _service(ctx, name)
    with _failures():
        if regen:
            service.regen_key(regen)
        primary, secondary = service.get_keys()
    typer.echo(f"primary: {primary}\nsecondary: {secondary}")


@app.command()
def delete(ctx: typer.Context, name: str) -> None:
    """Stop the service and remove it."""
    with _failures():
        _service(ctx, name).delete()
    out.print(f"{name}: deleted")

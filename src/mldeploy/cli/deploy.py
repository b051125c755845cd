"""``mldeploy deploy`` and what it shares with ``service update`` and ``package``: the models, the scoring
script and environment, and the settings flags (checked here, so bad input exits 2 before anything is made)."""

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from .env import load as load_environment
from .images import say_export_is_local
from .model import registered
from .output import EXIT_FAILED, fail, out
from .state import workspace


class Target(StrEnum):
    local = "local"
    docker = "docker"
    kubernetes = "kubernetes"


def positive(param: typer.CallbackParam, value: float | None) -> float | None:
    if value is not None and value <= 0:
        fail(f"{param.opts[0]} {value:g}: give a number more than 0.")
    return value


def utilization(param: typer.CallbackParam, value: float | None) -> float | None:
    if value is not None and not 0 < value <= 100:
        fail(f"{param.opts[0]} {value:g}: give a fraction in (0, 1] or a percentage in (0, 100], e.g. 0.7 or 70.")
    return value


ModelsOption = Annotated[list[str] | None, typer.Option("--model", "-m", help="NAME or NAME:VERSION (repeatable).")]
EntryOption = Annotated[str | None, typer.Option(help="The scoring script (relative to --source-dir if given).")]
SourceOption = Annotated[str | None, typer.Option(help="Folder copied into the app (the v1 source_directory).")]
CondaOption = Annotated[
    Path | None, typer.Option(help="The environment as a conda specification (its 'name:' names the environment).")
]
PipOption = Annotated[Path | None, typer.Option(help="The environment as pip requirements.")]
WorkersOption = Annotated[int | None, typer.Option(min=1, help="Worker processes (local, docker).")]
CpuOption = Annotated[
    float | None, typer.Option(callback=positive, help="Docker, Kubernetes: CPU cores (default 0.1).")
]
MemoryOption = Annotated[
    float | None, typer.Option(callback=positive, help="Docker, Kubernetes: memory in GB (default 0.5).")
]
GpuOption = Annotated[int | None, typer.Option(min=0, help="Kubernetes: GPUs per replica (nvidia.com/gpu).")]
ReplicasOption = Annotated[int | None, typer.Option(min=1, help="Kubernetes: fixed replicas, no autoscaling.")]
MinReplicasOption = Annotated[int | None, typer.Option(min=1, help="Kubernetes: autoscale_min_replicas (default 1).")]
MaxReplicasOption = Annotated[int | None, typer.Option(min=1, help="Kubernetes: autoscale_max_replicas (default 10).")]
UtilizationOption = Annotated[
    float | None,
    typer.Option(callback=utilization, help="Kubernetes: autoscale_target_utilization, 0.7 or 70 (default 70)."),
]
LegacyOption = Annotated[
    bool,
    typer.Option(
        "--legacy-compat",
        help="Serve old scripts and models unchanged with shims (sklearn.externals.joblib, NumPy aliases, "
        "torch full-model pickles of the deployed models); see docs/troubleshooting/legacy.md.",
    ),
]
AuthOption = Annotated[
    bool | None, typer.Option("--auth/--no-auth", help="Require a key (docker: off, kubernetes: on by default).")
]
RequestsPerWorkerOption = Annotated[
    int | None,
    typer.Option(
        help="Replace a worker after it answered this many requests (a new one starts first: no request fails); "
        "0: never (the default)."
    ),
]
WorkerRssOption = Annotated[
    int | None,
    typer.Option(
        help="Replace a worker whose resident memory passes this many MiB (a new one starts first), so a run() "
        "that leaks does not grow forever; below the container's --memory; 0: never (the default)."
    ),
]
ResponseOption = Annotated[
    float | None,
    typer.Option(help="Largest answer of run() in MB; a larger one is answered 500 saying so; 0: no limit."),
]


CONTAINER_FLAGS = ("--cpu", "--memory", "--auth/--no-auth")


@dataclass
class Settings:
    """The settings flags given on the command line (None: not given)."""

    cpu: float | None = None
    memory: float | None = None
    gpu: int | None = None
    replicas: int | None = None
    min_replicas: int | None = None
    max_replicas: int | None = None
    target_utilization: float | None = None
    auth: bool | None = None

    def given(self, kind: str, service: str | None = None) -> dict[str, Any]:
        """The given ones as v1 deployment settings. A flag that the target ``kind`` lacks exits 2, with the fix:
        another --target, or (for ``service``, deployed already) deploying it again."""
        flags = {
            "--cpu": ("cpu_cores", self.cpu),
            "--memory": ("memory_gb", self.memory),
            "--auth/--no-auth": ("auth_enabled", self.auth),
            "--gpu": ("gpu_cores", self.gpu),
            "--replicas": ("num_replicas", self.replicas),
            "--min-replicas": ("autoscale_min_replicas", self.min_replicas),
            "--max-replicas": ("autoscale_max_replicas", self.max_replicas),
            "--target-utilization": ("autoscale_target_utilization", _percent(self.target_utilization)),
        }
        given = {flag: setting for flag, setting in flags.items() if setting[1] is not None}
        allowed = {"local": (), "docker": CONTAINER_FLAGS}.get(kind, tuple(flags))
        refused = [flag for flag in given if flag not in allowed]
        if refused:
            needs = "--target kubernetes" if set(refused) - set(CONTAINER_FLAGS) else "--target docker or kubernetes"
            does = "does" if len(refused) == 1 else "do"
            if service is None:
                fail(f"{', '.join(refused)} {does} not apply to --target {kind}: add {needs}.")
            fail(f"{', '.join(refused)} {does} not apply to {service}, a {kind} service: deploy it again with "
                 f"{needs} (mldeploy deploy {service} ... --overwrite).")  # fmt: skip
        if (self.min_replicas or 0) > (self.max_replicas or self.min_replicas or 0):
            fail(f"--min-replicas {self.min_replicas} is more than --max-replicas {self.max_replicas}.")
        return dict(given.values())


def limits_given(max_requests_per_worker: int | None, max_worker_rss_mb: int | None,
                 max_response_mb: float | None) -> dict[str, Any]:  # fmt: skip
    """The worker recycling and answer cap flags given (the same on every target), as deployment settings."""
    given = {"max_requests_per_worker": max_requests_per_worker, "max_worker_rss_mb": max_worker_rss_mb,
             "max_response_mb": max_response_mb}  # fmt: skip
    return {setting: value for setting, value in given.items() if value is not None}


def _percent(utilization: float | None) -> int | None:
    """0.7 or 70 → 70 (v1's autoscale_target_utilization is a whole percentage)."""
    return None if utilization is None else round(utilization * 100 if utilization <= 1 else utilization)


def check_entry_script(entry_script: str | None, source_dir: str | None) -> str:
    """The entry script, which must exist (relative to the source folder when one is given); else exit 2."""
    from ..targets.app_folder import resolve_entry_script

    if entry_script is None:
        fail("Give the scoring script with --entry-script score.py.")
    try:
        resolve_entry_script(entry_script, source_dir)
    except FileNotFoundError as error:
        fail(str(error))
    return entry_script


def environment_given(service: str, conda: Path | None, pip: Path | None):  # type: ignore[no-untyped-def]
    """The environment of --conda-file or --pip-requirements (None: neither), named by the conda file's 'name:',
    else '<service>-env'."""
    if conda and pip:
        fail("Give at most one of --conda-file and --pip-requirements.")
    return load_environment(None, conda, pip, f"{service}-env") if conda or pip else None


def inference_config(service: str, entry_script: str | None, source_dir: str | None, conda: Path | None,
                     pip: Path | None):  # type: ignore[no-untyped-def]  # fmt: skip
    """The v1 InferenceConfig of a deploy."""
    from ..api.inference_config import InferenceConfig

    script = check_entry_script(entry_script, source_dir)
    return InferenceConfig(script, source_dir, environment_given(service, conda, pip))


def _deployment_config(target: Target, port: int | None, workers: int | None, settings: Settings, debug: bool,
                       cluster: dict[str, Any], legacy_compat: bool, limits: dict[str, Any]):  # type: ignore[no-untyped-def]  # fmt: skip
    """The deployment configuration of the flags given; one that cannot work (a recycling limit the container's
    memory would never let a worker reach) exits 2 with the fix."""
    from ..api.deploy_config import local_configuration
    from ..api.webservice import AciWebservice, AksWebservice, WebserviceException
    from ..targets.server_limits import LimitError, check_limits

    given = settings.given(target.value) | limits
    if target is not Target.docker and debug:
        fail("--debug applies to --target docker.")
    if target is Target.kubernetes and (workers is not None or port is not None):
        fail("--workers and --port apply to --target local and --target docker.")
    try:
        if target is Target.local:
            config = local_configuration(port=port, workers=workers or 1, legacy_compat=legacy_compat, **given)
        elif target is Target.docker:
            config = AciWebservice.deploy_configuration(port=port, workers=workers or 1, debug=debug,
                                                        legacy_compat=legacy_compat, **given)  # fmt: skip
        else:
            config = AksWebservice.deploy_configuration(**given, **cluster, legacy_compat=legacy_compat)
        check_limits(config)  # against the memory the container gets, given or by default; advice: by the deploy
    except (WebserviceException, LimitError) as error:
        fail(str(error))
    return config


def check_service_name(name: str) -> None:
    from ..workspace.services import check_name

    try:
        check_name(name)
    except ValueError as error:
        fail(str(error))


def _refuse_taken(ctx: typer.Context, name: str) -> None:
    """A name taken is refused before anything is made, with exit 1 as when a deploy finds it taken later (after
    waiting for another deploy of it, having registered its environment)."""
    from ..targets.deployments import already_exists
    from ..workspace.services import ServiceNotFound, load

    try:
        load(workspace(ctx).path, name)
    except ServiceNotFound:
        return
    fail(already_exists(name), EXIT_FAILED)


def _admit(target: Target, deployment: dict[str, Any], port: int | None) -> None:
    """What the target refuses (a taken port, more CPU or memory than the host has, an engine or cluster that
    does not answer) is refused here, before the deploy registers the service's environment (exit 1)."""
    from ..errors import DeploymentError, DockerUnavailable
    from ..targets.deployments import target_of
    from ..targets.local import free_port

    try:
        target_of(target.value).admit(dict(deployment), port or free_port(), None)
    except (DeploymentError, DockerUnavailable) as error:
        fail(str(error), EXIT_FAILED)


def deploy(
    ctx: typer.Context,
    name: Annotated[
        str, typer.Argument(metavar="NAME", help="The service's name (3-32 lowercase letters, digits, dashes).")
    ],
    model: ModelsOption = None,
    entry_script: EntryOption = None,
    source_dir: SourceOption = None,
    conda_file: CondaOption = None,
    pip_requirements: PipOption = None,
    target: Annotated[Target, typer.Option(help="Local processes, a Docker container (ACI), or Kubernetes (AKS).")] = (
        Target.local
    ),
    port: Annotated[int | None, typer.Option(min=1, max=65535, help="Port on 127.0.0.1 (default: a free one).")] = None,
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
    legacy_compat: LegacyOption = False,
) -> None:
    """Deploy models and a scoring script as a service (local processes, a container, or Kubernetes), and
    wait until it answers."""
    from ..api.model import Model, export_manifests
    from ..api.webservice import WebserviceException

    if (context or namespace or registry or export) and target is not Target.kubernetes:
        fail("--context, --namespace, --registry and --export apply to --target kubernetes.")
    check_service_name(name)
    settings = Settings(cpu, memory, gpu, replicas, min_replicas, max_replicas, target_utilization, auth)
    deployment = _deployment_config(target, port, workers, settings, debug,
                                    {"context": context, "namespace": namespace, "registry": registry},
                                    legacy_compat, limits_given(max_requests_per_worker, max_worker_rss_mb,
                                                                max_response_mb))  # fmt: skip
    if export is None and not overwrite:
        _refuse_taken(ctx, name)
        _admit(target, deployment, port)
    found = registered(ctx, model or [])
    config = inference_config(name, entry_script, source_dir, conda_file, pip_requirements)
    try:
        if export is not None:
            written = export_manifests(workspace(ctx), name, found, config, deployment, export)
            out.print(f"Wrote {len(written)} manifests to {export}; apply them with: kubectl apply -f {export}",
                      highlight=False)  # fmt: skip
            say_export_is_local(written, registry)
            return
        service = Model.deploy(workspace(ctx), name, found, config, deployment, overwrite=overwrite, show_output=True)
    except WebserviceException as error:
        fail(str(error), EXIT_FAILED)
    try:
        service.wait_for_deployment(show_output=True)
    except WebserviceException:
        raise typer.Exit(EXIT_FAILED) from None  # wait_for_deployment has printed the diagnosis
    out.print(f"{service.name}: {service.scoring_uri}", highlight=False)

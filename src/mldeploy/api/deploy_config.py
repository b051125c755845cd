"""Deployment configurations, as the v1 ``deploy_configuration`` functions make them: dicts of settings whose
type picks the target (local processes or a Docker container). Each holds every setting a deploy uses (the
defaults filled in) and remembers which ones its caller gave: an update changes only those (``changes``)."""

import functools
import inspect
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, TypeVar

from rich.console import Console

from ..errors import WebserviceException
from ..targets.server_limits import LimitError, check_limits
from ..targets.service_containers import DEFAULT_CPU_CORES, DEFAULT_MEMORY_GB

# v1 ACI arguments that only mean something on Azure: accepted so v1 code runs unchanged, and ignored.
AZURE_ONLY = frozenset({
    "properties", "location", "ssl_enabled", "enable_app_insights", "ssl_cert_pem_file", "ssl_key_pem_file",
    "ssl_cname", "dns_name_label", "collect_model_data", "cmk_vault_base_url", "cmk_key_name",
    "cmk_key_version", "vnet_name", "subnet_name",
})  # fmt: skip
console = Console(stderr=True, soft_wrap=True)


class DeploymentConfiguration(dict):  # type: ignore[type-arg]
    """Settings of a deployment; ``given``: those its caller gave (None: every one, as in a plain dict)."""

    target = ""
    follow: ClassVar[dict[str, tuple[str, ...]]] = {}  # a setting given → the settings whose value it sets too
    given: frozenset[str] | None = None


Config = TypeVar("Config", bound=DeploymentConfiguration)


def changes(config: Mapping[str, Any] | None) -> dict[str, Any]:
    """The settings that ``config`` changes in an update: those its caller gave (a ``deploy_configuration``'s
    defaults are not given: the service keeps its own); every one of a plain dict."""
    given = getattr(config, "given", None)
    return {name: value for name, value in (config or {}).items() if given is None or name in given}


def _noting_given(make: Callable[..., Config]) -> Callable[..., Config]:
    """``make``'s configuration remembers which arguments its caller passed, and the settings they set too."""
    signature = inspect.signature(make)

    @functools.wraps(make)
    def configuration(*args: Any, **kwargs: Any) -> Config:
        config = make(*args, **kwargs)
        passed = set(signature.bind(*args, **kwargs).arguments) - {"azure_only"}
        config.given = frozenset(passed.union(*(config.follow.get(name, ()) for name in passed)) & set(config))
        try:  # what the given settings show alone: the memory a limit is judged against may be the service's
            check_limits(changes(config))
        except LimitError as error:
            raise WebserviceException(str(error)) from None
        return config

    return configuration


def _ignore_azure_only(function: str, given: dict[str, Any], azure_only: frozenset[str]) -> None:
    """v1 arguments that only mean something on Azure are ignored, with a notice; unknown ones are refused."""
    unknown = sorted(set(given) - azure_only)
    if unknown:
        raise WebserviceException(
            f"{function}() got unknown argument(s): {', '.join(unknown)}. See `help({function})` for the known "
            "ones; the Azure-only ones are accepted and ignored."
        )
    if given:
        console.print(f"Ignored (Azure only, no meaning here): {', '.join(sorted(given))}")


def _with_limits(
    config: Config, max_requests_per_worker: int | None, max_worker_rss_mb: int | None, max_response_mb: float | None
) -> Config:
    """``config`` with mldeploy's worker recycling and answer cap (those of `mldeploy serve`; None or 0: off)."""
    config.update(
        max_requests_per_worker=max_requests_per_worker,
        max_worker_rss_mb=max_worker_rss_mb,
        max_response_mb=max_response_mb,
    )
    return config


def check_settings(settings: Mapping[str, Any]) -> None:
    """Refuse the recycling and answer cap settings that cannot work; warn of an RSS limit the workers together
    may pass before the container's. The settings of a whole deployment: a limit is judged against the memory
    the service gets, given or kept."""
    try:
        advice = check_limits(settings)
    except LimitError as error:
        raise WebserviceException(str(error)) from None
    if advice:
        console.print(advice, highlight=False, markup=False)


class LocalServiceDeploymentConfiguration(DeploymentConfiguration):
    """Settings of a local deployment (port, workers, debug_errors, legacy_compat, worker recycling)."""

    target = "local"


class AciServiceDeploymentConfiguration(DeploymentConfiguration):
    """Settings of a container deployment on the Docker engine (the ACI equivalent)."""

    target = "docker"


@_noting_given
def local_configuration(
    port: int | None = None,
    workers: int = 1,
    debug_errors: bool = False,
    legacy_compat: bool = False,
    max_requests_per_worker: int | None = None,
    max_worker_rss_mb: int | None = None,
    max_response_mb: float | None = None,
) -> LocalServiceDeploymentConfiguration:
    """The v1 arguments; mldeploy adds ``legacy_compat`` (shims for old scripts and models) and, as
    `mldeploy serve` has them (off when not given), ``max_requests_per_worker`` (replace a worker after that
    many requests), ``max_worker_rss_mb`` (replace one whose resident memory passes that many MiB; a new one
    starts first, so no request fails) and ``max_response_mb`` (a larger answer of run() is a 500 that says
    so)."""
    config = LocalServiceDeploymentConfiguration(
        port=port, workers=workers, debug_errors=debug_errors, legacy_compat=legacy_compat
    )
    return _with_limits(config, max_requests_per_worker, max_worker_rss_mb, max_response_mb)


@_noting_given
def aci_configuration(
    cpu_cores: float | None = None,
    memory_gb: float | None = None,
    tags: dict[str, str] | None = None,
    description: str | None = None,
    auth_enabled: bool | None = None,
    primary_key: str | None = None,
    secondary_key: str | None = None,
    port: int | None = None,
    workers: int = 1,
    debug_errors: bool = False,
    debug: bool = False,
    legacy_compat: bool = False,
    max_requests_per_worker: int | None = None,
    max_worker_rss_mb: int | None = None,
    max_response_mb: float | None = None,
    **azure_only: Any,
) -> AciServiceDeploymentConfiguration:
    """The v1 arguments and defaults (Azure-only ones accepted and ignored); mldeploy adds ``workers``,
    ``debug_errors``, ``debug`` (wait for VS Code), ``legacy_compat`` and, as `mldeploy serve` has them (off
    when not given), ``max_requests_per_worker``, ``max_worker_rss_mb`` (below ``memory_gb``: the kernel would
    kill the worker first) and ``max_response_mb``."""
    _ignore_azure_only("AciWebservice.deploy_configuration", azure_only, AZURE_ONLY)
    config = AciServiceDeploymentConfiguration(
        cpu_cores=DEFAULT_CPU_CORES if cpu_cores is None else cpu_cores,
        memory_gb=DEFAULT_MEMORY_GB if memory_gb is None else memory_gb,
        tags=dict(tags or {}),
        description=description,
        auth_enabled=bool(auth_enabled),
        primary_key=primary_key,
        secondary_key=secondary_key,
        port=port,
        workers=workers,
        debug_errors=debug_errors,
        debug=debug,
        legacy_compat=legacy_compat,  # mldeploy's: serve old scripts unchanged (docs/troubleshooting/legacy.md)
    )
    return _with_limits(config, max_requests_per_worker, max_worker_rss_mb, max_response_mb)


class AksServiceDeploymentConfiguration(DeploymentConfiguration):
    """Settings of a Kubernetes deployment (the AKS equivalent), with the v1 defaults."""

    target = "kubernetes"
    follow: ClassVar[dict[str, tuple[str, ...]]] = {
        "cpu_cores": ("cpu_cores_limit",),  # the limits follow the requests unless given
        "memory_gb": ("memory_gb_limit",),
        "num_replicas": ("autoscale_enabled",),  # fixed replicas stop autoscaling
        "token_auth_enabled": ("auth_enabled",),
    }


TOKEN_AUTH_NOTICE = (
    "token_auth_enabled=True: Azure AD tokens do not exist outside Azure, so the service is protected with keys "
    "instead (auth_enabled=True). Clients send 'Authorization: Bearer <key>'; get the keys with "
    "service.get_keys() or `mldeploy service keys NAME`."
)
AKS_AZURE_ONLY = frozenset({"collect_model_data", "enable_app_insights", "compute_target_name", "blobfuse_enabled"})


@_noting_given
def aks_configuration(
    autoscale_enabled: bool | None = None,
    autoscale_min_replicas: int | None = None,
    autoscale_max_replicas: int | None = None,
    autoscale_refresh_seconds: int | None = None,
    autoscale_target_utilization: int | None = None,
    auth_enabled: bool | None = None,
    cpu_cores: float | None = None,
    memory_gb: float | None = None,
    scoring_timeout_ms: int | None = None,
    replica_max_concurrent_requests: int | None = None,
    max_request_wait_time: int | None = None,
    num_replicas: int | None = None,
    primary_key: str | None = None,
    secondary_key: str | None = None,
    tags: dict[str, str] | None = None,
    properties: dict[str, str] | None = None,
    description: str | None = None,
    gpu_cores: int | None = None,
    period_seconds: int | None = None,
    initial_delay_seconds: int | None = None,
    timeout_seconds: int | None = None,
    success_threshold: int | None = None,
    failure_threshold: int | None = None,
    namespace: str | None = None,
    token_auth_enabled: bool | None = None,
    cpu_cores_limit: float | None = None,
    memory_gb_limit: float | None = None,
    context: str | None = None,
    registry: str | None = None,
    keda_prometheus_url: str | None = None,
    keda_query: str | None = None,
    legacy_compat: bool = False,
    max_requests_per_worker: int | None = None,
    max_worker_rss_mb: int | None = None,
    max_response_mb: float | None = None,
    **azure_only: Any,
) -> AksServiceDeploymentConfiguration:
    """The v1 arguments and defaults; autoscaling is on unless ``num_replicas`` is given. mldeploy adds
    ``context`` (kubeconfig), ``registry`` (push the image there), ``keda_prometheus_url`` (scale on
    concurrency, as v1 did, with KEDA), ``legacy_compat`` (shims for old scripts and models) and, as
    `mldeploy serve` has them (off when not given), ``max_requests_per_worker`` (replace a worker after that
    many requests), ``max_worker_rss_mb`` (replace one whose resident memory passes that many MiB, a new one
    first; below ``memory_gb_limit``: the kernel would kill it first) and ``max_response_mb`` (cap run()'s
    answers)."""
    _ignore_azure_only("AksWebservice.deploy_configuration", azure_only, AKS_AZURE_ONLY)
    if auth_enabled and token_auth_enabled:
        raise WebserviceException("Key and token auth cannot both be on: set auth_enabled or token_auth_enabled.")
    if token_auth_enabled:
        console.print(TOKEN_AUTH_NOTICE)
    cpu = DEFAULT_CPU_CORES if cpu_cores is None else cpu_cores
    memory = DEFAULT_MEMORY_GB if memory_gb is None else memory_gb
    config = AksServiceDeploymentConfiguration(
        autoscale_enabled=num_replicas is None if autoscale_enabled is None else autoscale_enabled,
        autoscale_min_replicas=autoscale_min_replicas or 1,
        autoscale_max_replicas=autoscale_max_replicas or 10,
        autoscale_refresh_seconds=autoscale_refresh_seconds or 1,
        autoscale_target_utilization=autoscale_target_utilization or 70,
        auth_enabled=True if auth_enabled is None or token_auth_enabled else bool(auth_enabled),
        token_auth_enabled=bool(token_auth_enabled),
        cpu_cores=cpu,
        memory_gb=memory,
        cpu_cores_limit=cpu if cpu_cores_limit is None else cpu_cores_limit,
        memory_gb_limit=memory if memory_gb_limit is None else memory_gb_limit,
        gpu_cores=gpu_cores or 0,
        scoring_timeout_ms=scoring_timeout_ms or 60_000,
        replica_max_concurrent_requests=replica_max_concurrent_requests or 1,
        max_request_wait_time=max_request_wait_time or 500,
        num_replicas=num_replicas,
        primary_key=primary_key,
        secondary_key=secondary_key,
        tags=dict(tags or {}),
        properties=dict(properties or {}),
        description=description,
        period_seconds=period_seconds or 10,
        initial_delay_seconds=310 if initial_delay_seconds is None else initial_delay_seconds,
        timeout_seconds=timeout_seconds or 2,
        success_threshold=success_threshold or 1,
        failure_threshold=failure_threshold or 3,
        namespace=namespace or "default",
        context=context,  # the kubeconfig context (default: the current one)
        registry=registry,  # where the image is pushed for the cluster to pull (default: not pushed)
        keda_prometheus_url=keda_prometheus_url,  # scale on requests in flight with KEDA instead of CPU
        keda_query=keda_query,  # the in-flight query, when your Prometheus labels pods differently
        legacy_compat=legacy_compat,  # serve old scripts unchanged (docs/troubleshooting/legacy.md)
    )
    return _with_limits(config, max_requests_per_worker, max_worker_rss_mb, max_response_mb)

"""Deployment configurations, as the v1 ``deploy_configuration`` functions make them: dicts of settings whose
type picks the target (local processes or a Docker container)."""

from typing import Any

from rich.console import Console

from ..errors import WebserviceException
from ..targets.container import DEFAULT_CPU_CORES, DEFAULT_MEMORY_GB

# v1 ACI arguments that only mean something on Azure: accepted so v1 code runs unchanged, and ignored.
AZURE_ONLY = frozenset({
    "properties", "location", "ssl_enabled", "enable_app_insights", "ssl_cert_pem_file", "ssl_key_pem_file",
    "ssl_cname", "dns_name_label", "collect_model_data", "cmk_vault_base_url", "cmk_key_name",
    "cmk_key_version", "vnet_name", "subnet_name",
})  # fmt: skip
console = Console(stderr=True, soft_wrap=True)


class LocalServiceDeploymentConfiguration(dict):  # type: ignore[type-arg]
    """Settings of a local deployment (port, workers, debug_errors)."""

    target = "local"


class AciServiceDeploymentConfiguration(dict):  # type: ignore[type-arg]
    """Settings of a container deployment on the Docker engine (the ACI equivalent)."""

    target = "docker"


def local_configuration(port: int | None, workers: int, debug_errors: bool) -> LocalServiceDeploymentConfiguration:
    return LocalServiceDeploymentConfiguration(port=port, workers=workers, debug_errors=debug_errors)


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
    **azure_only: Any,
) -> AciServiceDeploymentConfiguration:
    unknown = sorted(set(azure_only) - AZURE_ONLY)
    if unknown:
        raise WebserviceException(
            f"AciWebservice.deploy_configuration() got unknown argument(s): {', '.join(unknown)}. Known: cpu_cores, "
            "memory_gb, tags, description, auth_enabled, primary_key, secondary_key, port, workers, debug_errors, "
            "debug (and the Azure-only ones, which are ignored)."
        )
    if azure_only:
        console.print(f"Ignored (Azure only, no meaning on a local Docker engine): {', '.join(sorted(azure_only))}")
    return AciServiceDeploymentConfiguration(
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
    )

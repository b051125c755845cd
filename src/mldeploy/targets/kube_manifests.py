"""The Kubernetes objects of a service (the AKS equivalent), as plain dicts the official client applies and
``--export`` writes as YAML: a Deployment (requests, limits, GPUs, probes on ``/``), a Service, a Secret
holding the server's config and keys, and a HorizontalPodAutoscaler (autoscaling/v2). Every object carries
our labels, so that ``delete`` removes what we made and nothing else. Pods run as the image's user with no
capabilities (container_policy).
"""

import dataclasses
import hashlib
from pathlib import Path
from typing import Any

import yaml

from ..scoring.config import ServerConfig
from ..workspace.private import private_folder, write_private
from .container_policy import CONTAINER_SECURITY, pod_security
from .package import CONTAINER_PORT
from .server_limits import scoring_limits

MANAGED_BY = "mldeploy"
SERVICE_LABEL = "mldeploy.io/service"
CONFIG_MOUNT = "/etc/mldeploy/service"
COMMAND = ["/opt/mldeploy/env/bin/python", "-m", "mldeploy.scoring", f"{CONFIG_MOUNT}/server.json"]
SERVICE_PORT = 80
SCRAPE = {"prometheus.io/scrape": "true", "prometheus.io/port": str(CONTAINER_PORT), "prometheus.io/path": "/metrics"}
IN_FLIGHT_QUERY = 'sum(mldeploy_requests_in_flight{{namespace="{namespace}", pod=~"{name}-.*"}})'


def labels(name: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": name, "app.kubernetes.io/managed-by": MANAGED_BY, SERVICE_LABEL: name}


def _metadata(name: str, settings: dict[str, Any], suffix: str = "") -> dict[str, Any]:
    return {"name": f"{name}{suffix}", "namespace": settings["namespace"], "labels": labels(name)}


def cpu_quantity(cores: float) -> str:
    return f"{round(cores * 1000)}m"


def memory_quantity(gb: float) -> str:
    return f"{round(gb * 1024)}Mi"


def _resources(settings: dict[str, Any]) -> dict[str, Any]:
    requests = {"cpu": cpu_quantity(settings["cpu_cores"]), "memory": memory_quantity(settings["memory_gb"])}
    limits = {"cpu": cpu_quantity(settings["cpu_cores_limit"]), "memory": memory_quantity(settings["memory_gb_limit"])}
    if settings.get("gpu_cores"):
        requests["nvidia.com/gpu"] = limits["nvidia.com/gpu"] = str(settings["gpu_cores"])
    return {"requests": requests, "limits": limits}


def _probe(settings: dict[str, Any], initial_delay_s: int) -> dict[str, Any]:
    return {
        "httpGet": {"path": "/", "port": "http"},
        "initialDelaySeconds": initial_delay_s,
        "periodSeconds": settings["period_seconds"],
        "timeoutSeconds": settings["timeout_seconds"],
        "successThreshold": 1,
        "failureThreshold": settings["failure_threshold"],
    }


def server_config(image_config: ServerConfig, settings: dict[str, Any], keys: list[str]) -> ServerConfig:
    """The server's settings in a pod: the image's, with the deployment's timeout, concurrency, keys, worker
    recycling and answer cap."""
    return dataclasses.replace(
        image_config,
        host="0.0.0.0",
        port=CONTAINER_PORT,
        scoring_timeout_ms=settings["scoring_timeout_ms"],
        max_concurrent_requests=settings["replica_max_concurrent_requests"],
        max_request_wait_ms=settings["max_request_wait_time"],
        auth_keys=tuple(keys),
        legacy_compat=bool(settings.get("legacy_compat", False)),
        **scoring_limits(settings),
    )


def deployment(name: str, image: str, settings: dict[str, Any], config: ServerConfig) -> dict[str, Any]:
    # a new config (keys, timeout) changes this annotation, so a rolling update picks it up
    config_digest = hashlib.sha256(config.to_json().encode()).hexdigest()[:16]
    replicas = settings["num_replicas"] or settings["autoscale_min_replicas"]
    container = {
        "name": "scoring",
        "image": image,
        "command": COMMAND,
        "ports": [{"name": "http", "containerPort": CONTAINER_PORT}],
        "resources": _resources(settings),
        "readinessProbe": {**_probe(settings, 0), "successThreshold": settings["success_threshold"]},
        "livenessProbe": _probe(settings, settings["initial_delay_seconds"]),
        "volumeMounts": [{"name": "config", "mountPath": CONFIG_MOUNT, "readOnly": True}],
        "securityContext": CONTAINER_SECURITY,
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _metadata(name, settings),
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {SERVICE_LABEL: name}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
            "template": {
                "metadata": {"labels": labels(name), "annotations": {"mldeploy.io/config": config_digest, **SCRAPE}},
                "spec": {
                    "containers": [container],
                    "volumes": [{"name": "config", "secret": {"secretName": f"{name}-config"}}],
                    **pod_security(config),
                },
            },
        },
    }


def secret(name: str, settings: dict[str, Any], config: ServerConfig, keys: list[str]) -> dict[str, Any]:
    data = {"server.json": config.to_json()}
    if keys:
        data |= {"primaryKey": keys[0], "secondaryKey": keys[1]}
    return {"apiVersion": "v1", "kind": "Secret", "metadata": _metadata(name, settings, "-config"),
            "type": "Opaque", "stringData": data}  # fmt: skip


def service(name: str, settings: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _metadata(name, settings),
        "spec": {
            "selector": {SERVICE_LABEL: name},
            "ports": [{"name": "http", "port": SERVICE_PORT, "targetPort": "http"}],
        },
    }


def autoscaler(name: str, settings: dict[str, Any]) -> dict[str, Any]:
    """Scale on CPU utilisation (v1's target utilisation), checking every ``autoscale_refresh_seconds``."""
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": _metadata(name, settings),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "minReplicas": settings["autoscale_min_replicas"],
            "maxReplicas": settings["autoscale_max_replicas"],
            "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {
                "type": "Utilization", "averageUtilization": settings["autoscale_target_utilization"]}}}],
            "behavior": {"scaleUp": {"stabilizationWindowSeconds": 0, "policies": [
                {"type": "Percent", "value": 100, "periodSeconds": settings["autoscale_refresh_seconds"]}]}},
        },
    }  # fmt: skip


def scaled_object(name: str, settings: dict[str, Any]) -> dict[str, Any]:
    """KEDA, to scale on concurrency as v1 did: requests in flight (the server's own metric, read from the
    user's Prometheus) per replica, against ``max_concurrent * target_utilization``."""
    threshold = settings["replica_max_concurrent_requests"] * settings["autoscale_target_utilization"] / 100
    query = settings.get("keda_query") or IN_FLIGHT_QUERY.format(namespace=settings["namespace"], name=name)
    return {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": _metadata(name, settings),
        "spec": {
            "scaleTargetRef": {"name": name},
            "pollingInterval": settings["autoscale_refresh_seconds"],
            "minReplicaCount": settings["autoscale_min_replicas"],
            "maxReplicaCount": settings["autoscale_max_replicas"],
            "triggers": [{"type": "prometheus", "metadata": {
                "serverAddress": settings["keda_prometheus_url"], "query": query, "threshold": f"{threshold:g}"}}],
        },
    }  # fmt: skip


def manifests(
    name: str, image: str, config: ServerConfig, settings: dict[str, Any], keys: list[str]
) -> list[dict[str, Any]]:
    """Every object of the service, in the order they are applied; ``config`` from ``server_config``. With
    autoscaling, a HorizontalPodAutoscaler on CPU, or with ``keda_prometheus_url`` a KEDA ScaledObject on
    concurrency."""
    objects = [secret(name, settings, config, keys), deployment(name, image, settings, config), service(name, settings)]
    if settings["autoscale_enabled"]:
        objects.append(
            scaled_object(name, settings) if settings.get("keda_prometheus_url") else autoscaler(name, settings)
        )
    return objects


def export(objects: list[dict[str, Any]], folder: Path) -> list[Path]:
    """Write each object as ``NN-kind-name.yaml`` in ``folder``, in apply order (`kubectl apply -f folder`);
    owner-only (files 0600, the folder 0700): the Secret holds the service keys."""
    private_folder(folder)
    written = []
    for number, manifest in enumerate(objects, 1):
        path = folder / f"{number:02d}-{manifest['kind'].lower()}-{manifest['metadata']['name']}.yaml"
        write_private(path, yaml.safe_dump(manifest, sort_keys=False))
        written.append(path)
    return written

"""The Kubernetes target (the AKS equivalent): the deployment image (pushed to the user's registry when one
is named, unless it holds a credential) and the service's objects applied to the user's cluster with the
official client; progress, diagnosis and logs read from the cluster's own pods and events.

Requests from this machine (``service.run``) go through the API server's service proxy with the
kubeconfig's credentials; the proxy keeps ``Authorization`` for itself, so the service key travels in
``X-Mldeploy-Key``.
"""

import contextlib
import datetime
import functools
import os
import ssl
import time
from collections.abc import Callable
from typing import Any, TypeVar

from ..diagnose.containers import PULL_REASONS
from ..diagnose.model import ClusterState
from ..diagnose.rules import diagnose
from ..errors import DockerUnavailable
from ..scoring.config import ServerConfig
from ..wording import phrase
from ..workspace.blobs import BlobStore
from ..workspace.services import ServiceRecord
from . import kube_manifests
from .base import DeploymentError, Plan, Progress, ServiceState, post
from .container import container_name
from .docker_engine import connect
from .image_push import push_image
from .keys import keys_for
from .service_image import build_service_image, remove_service_images

POLL_S = 0.5
KEDA = {"group": "keda.sh", "version": "v1alpha1", "plural": "scaledobjects"}
MANAGED_BY = "app.kubernetes.io/managed-by"


def _context_option() -> str:
    return phrase(api="AksWebservice.deploy_configuration(context=...)", cli="--context")


def _no_cluster(reason: str) -> str:
    return (
        f"No Kubernetes cluster is configured ({reason}). Point KUBECONFIG at your cluster's kubeconfig (or use "
        f"~/.kube/config), or name a context with {_context_option()}."
    )


Result = TypeVar("Result")


def reaching(method: Callable[..., Result]) -> Callable[..., Result]:
    """The cluster not answering, or refusing, becomes a DeploymentError in plain words."""

    @functools.wraps(method)
    def call(self: "KubernetesTarget", *args: Any, **kwargs: Any) -> Result:
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        try:
            return method(self, *args, **kwargs)
        except HTTPError as error:
            host = self._api_client.configuration.host if self._api_client else "?"
            raise DeploymentError(
                f"The Kubernetes API server at {host} does not answer ({type(error).__name__}). Check that the "
                f"cluster is up and that KUBECONFIG / {_context_option()} point at it."
            ) from None
        except ApiException as error:
            raise DeploymentError(
                f"The Kubernetes API server refused the request: {error.status} {error.reason}."
            ) from None

    return call


class KubernetesTarget:
    def __init__(self) -> None:
        self._api_client: Any = None
        self._context: str | None = None

    def _client(self, settings: dict[str, Any]) -> Any:
        from kubernetes import config

        context = settings.get("context")
        if self._api_client is None or context != self._context:
            # the library reads KUBECONFIG once, at import: read it at each use
            config_file = os.environ.get("KUBECONFIG") or "~/.kube/config"
            try:
                self._api_client = config.new_client_from_config(config_file=config_file, context=context)
            except (config.ConfigException, OSError, TypeError) as error:
                raise DeploymentError(_no_cluster(str(error).splitlines()[0])) from None
            self._context = context
        return self._api_client

    def _apis(self, record: ServiceRecord) -> tuple[Any, Any, Any]:
        from kubernetes import client

        api_client = self._client(record.deployment_config)
        return client.CoreV1Api(api_client), client.AppsV1Api(api_client), client.AutoscalingV2Api(api_client)

    def admit(self, settings: dict[str, Any], port: int, current: ServiceRecord | None) -> None:
        self._client(settings)

    def prepare(self, blobs: BlobStore, record: ServiceRecord, plan: Plan, progress: Progress) -> ServerConfig:
        """Build the image, push it to the registry (if one is named), and make the pods' server config."""
        settings = plan.settings
        docker = connect()
        repository = f"mldeploy/{container_name(record)}"
        image_config = build_service_image(docker, blobs, record, plan, progress, repository)
        registry = settings.get("registry")
        if registry:
            record.image = push_image(docker, record.image or "", registry, progress)
        record.keys = keys_for(settings, record.keys)
        return kube_manifests.server_config(image_config, settings, record.keys)

    def objects(self, record: ServiceRecord, config: ServerConfig) -> list[dict[str, Any]]:
        return kube_manifests.manifests(record.name, record.image or "", config, record.deployment_config, record.keys)

    @reaching
    def start(self, record: ServiceRecord, config: ServerConfig) -> None:
        """Create or replace every object of the service (a changed pod template rolls the pods)."""
        from kubernetes.client.exceptions import ApiException

        record.write_config(config)
        core, apps, autoscaling = self._apis(record)
        namespace = record.deployment_config["namespace"]
        calls = {"Secret": (core, "namespaced_secret"), "Deployment": (apps, "namespaced_deployment"),
                 "Service": (core, "namespaced_service"),
                 "HorizontalPodAutoscaler": (autoscaling, "namespaced_horizontal_pod_autoscaler")}  # fmt: skip
        manifests = self.objects(record, config)
        for manifest in manifests:
            if manifest["kind"] == "ScaledObject":
                self._apply_scaled_object(record, manifest)
                continue
            api, suffix = calls[manifest["kind"]]
            try:
                getattr(api, f"create_{suffix}")(namespace, manifest)
            except ApiException as error:
                if error.status != 409:
                    raise DeploymentError(_api_error(error, manifest)) from None
                getattr(api, f"replace_{suffix}")(manifest["metadata"]["name"], namespace, manifest)
        applied = {manifest["kind"] for manifest in manifests}
        if "HorizontalPodAutoscaler" not in applied:  # switched to KEDA or to fixed replicas: the old one goes
            self._delete_if_ours(record, ((autoscaling, "namespaced_horizontal_pod_autoscaler", record.name),))
        if "ScaledObject" not in applied:
            self._delete_scaled_object_if_ours(record)
        host = self._client(record.deployment_config).configuration.host.rstrip("/")
        record.scoring_url = f"{host}/api/v1/namespaces/{namespace}/services/{record.name}:http/proxy/score"
        record.started = time.time()
        record.save()

    def _apply_scaled_object(self, record: ServiceRecord, manifest: dict[str, Any]) -> None:
        from kubernetes import client
        from kubernetes.client.exceptions import ApiException

        custom = client.CustomObjectsApi(self._client(record.deployment_config))
        namespace, name = record.deployment_config["namespace"], manifest["metadata"]["name"]
        try:
            custom.create_namespaced_custom_object(namespace=namespace, body=manifest, **KEDA)
        except ApiException as error:
            if error.status == 404:
                raise DeploymentError(
                    "The cluster does not know KEDA's ScaledObject: install KEDA (https://keda.sh), or leave "
                    "keda_prometheus_url out to scale on CPU with a HorizontalPodAutoscaler."
                ) from None
            if error.status != 409:
                raise DeploymentError(_api_error(error, manifest)) from None
            current = custom.get_namespaced_custom_object(namespace=namespace, name=name, **KEDA)
            manifest["metadata"]["resourceVersion"] = current["metadata"].get("resourceVersion")
            custom.replace_namespaced_custom_object(namespace=namespace, name=name, body=manifest, **KEDA)

    def apply(self, record: ServiceRecord, config: ServerConfig) -> int:
        self.start(record, config)
        return 0

    def signal_reload(self, record: ServiceRecord) -> int:
        """New keys or settings in the config: apply again (the config digest changes, the pods roll)."""
        return self.apply(record, ServerConfig.from_file(str(record.config_file)))

    def reload(self, record: ServiceRecord) -> int:
        update = phrase(
            api="service.update(inference_config=...)",
            cli=f"mldeploy service update {record.name} --entry-script SCRIPT",
        )
        raise DeploymentError(f"On Kubernetes an edited score.py needs a new image: {update}; the pods roll to it.")

    @reaching
    def _snapshot(self, record: ServiceRecord) -> tuple[Any, ClusterState]:
        core, apps, _ = self._apis(record)
        namespace = record.deployment_config["namespace"]
        serialize = self._client(record.deployment_config).sanitize_for_serialization
        deployment = serialize(apps.read_namespaced_deployment(record.name, namespace))
        selector = f"{kube_manifests.SERVICE_LABEL}={record.name}"
        pods = serialize(core.list_namespaced_pod(namespace, label_selector=selector))["items"]
        names = {pod["metadata"]["name"] for pod in pods} | {record.name}
        events = [event for event in serialize(core.list_namespaced_event(namespace))["items"]
                  if event.get("involvedObject", {}).get("name") in names]  # fmt: skip
        logs = {}
        failing = [pod["metadata"]["name"] for pod in pods if _restarting(pod)]
        if failing:  # the rules quote one pod's previous container; reading every pod's each poll is waste
            logs[failing[0]] = core.read_namespaced_pod_log(failing[0], namespace, previous=True, tail_lines=200)
        created = deployment["metadata"].get("creationTimestamp") or datetime.datetime.now(datetime.UTC).isoformat()
        applied = datetime.datetime.fromisoformat(str(created).replace("Z", "+00:00"))
        return deployment, ClusterState(pods, events, applied, datetime.datetime.now(datetime.UTC), logs)

    @reaching
    def wait(self, record: ServiceRecord, timeout_s: float, progress: Progress, generation: int = 0) -> None:
        """Until every replica of the newest pod template is ready; DeploymentError with the diagnosis as soon
        as the cluster's state shows a failure (unschedulable for 5 minutes, crash loop, OOM, image pull)."""
        started = time.monotonic()
        while time.monotonic() - started < timeout_s:
            deployment, state = self._snapshot(record)
            if _rolled_out(deployment):
                return
            diagnoses = diagnose(state)
            fatal = [diagnosis for diagnosis in diagnoses if diagnosis.fatal]
            if fatal:
                raise DeploymentError(
                    f"Service {record.name!r} failed on Kubernetes.\n" + "\n\n".join(d.render() for d in fatal)
                )
            status = deployment.get("status") or {}
            note = f"; {diagnoses[0].cause}" if diagnoses else ""
            progress(f"{status.get('readyReplicas') or 0}/{deployment['spec']['replicas']} pods ready{note}")
            time.sleep(POLL_S)
        raise DeploymentError(
            f"Service {record.name!r} was not ready after {timeout_s:.0f} s; see why: "
            + phrase(api="service.diagnose()", cli=f"mldeploy diagnose {record.name}")
            + "."
        )

    @reaching
    def diagnoses(self, record: ServiceRecord) -> list[str]:
        deployment, state = self._snapshot(record)
        return [] if _rolled_out(deployment) else [diagnosis.render() for diagnosis in diagnose(state)]

    def state(self, record: ServiceRecord) -> ServiceState:
        try:
            deployment, state = self._snapshot(record)
        except DeploymentError:
            return ServiceState.UNHEALTHY
        if _rolled_out(deployment):
            return ServiceState.HEALTHY
        return ServiceState.FAILED if any(d.fatal for d in diagnose(state)) else ServiceState.TRANSITIONING

    @reaching
    def logs(self, record: ServiceRecord, num_lines: int) -> str:
        """Every pod's log; for a pod that restarted, the previous container's log first (where init() failed)."""
        core, _, _ = self._apis(record)
        namespace = record.deployment_config["namespace"]
        parts = []
        selector = f"{kube_manifests.SERVICE_LABEL}={record.name}"
        for pod in core.list_namespaced_pod(namespace, label_selector=selector).items:
            name = pod.metadata.name
            statuses = pod.status.container_statuses or []
            if any(status.restart_count for status in statuses):
                previous = core.read_namespaced_pod_log(name, namespace, previous=True, tail_lines=num_lines)
                parts.append(f"== {name} (previous container) ==\n{previous}")
            waiting = [s.state.waiting.reason for s in statuses if s.state and s.state.waiting]
            if not any(reason in PULL_REASONS for reason in waiting):
                parts.append(f"== {name} ==\n{core.read_namespaced_pod_log(name, namespace, tail_lines=num_lines)}")
        return "\n".join(parts)

    def post(self, record: ServiceRecord, body: bytes) -> tuple[int, bytes]:
        """Through the API server's service proxy, with the kubeconfig's credentials."""
        configuration = self._client(record.deployment_config).configuration
        headers = {setting["key"]: setting["value"] for setting in configuration.auth_settings().values()
                   if setting["in"] == "header"}  # fmt: skip
        if record.keys:
            headers["X-Mldeploy-Key"] = record.keys[0]
        context = None
        if (record.scoring_url or "").startswith("https"):
            context = ssl.create_default_context(cafile=configuration.ssl_ca_cert)
            if configuration.cert_file:
                context.load_cert_chain(configuration.cert_file, configuration.key_file)
        return post(record.scoring_uri, body, headers, context)

    def stop(self, record: ServiceRecord) -> None:
        """Delete the objects this service made, then its images on this machine (a pushed copy stays)."""
        self._delete_objects(record)
        repositories = [f"mldeploy/{container_name(record)}"]
        if registry := record.deployment_config.get("registry"):
            repositories.append(f"{registry.rstrip('/')}/{repositories[0]}")  # the tag push_image made
        with contextlib.suppress(DockerUnavailable):  # the cluster's objects matter; local images are a leftover
            remove_service_images(connect(), repositories, keep=None)

    @reaching
    def _delete_objects(self, record: ServiceRecord) -> None:
        """The objects this service made, and only those: each must carry our labels."""

        core, apps, autoscaling = self._apis(record)
        owned = (
            (autoscaling, "namespaced_horizontal_pod_autoscaler", record.name),
            (core, "namespaced_service", record.name),
            (apps, "namespaced_deployment", record.name),
            (core, "namespaced_secret", f"{record.name}-config"),
        )
        self._delete_if_ours(record, owned)
        self._delete_scaled_object_if_ours(record)

    def _delete_if_ours(self, record: ServiceRecord, objects: tuple[tuple[Any, str, str], ...]) -> None:
        """Delete each (api, kind suffix, name) that exists and carries this service's labels."""
        from kubernetes.client.exceptions import ApiException

        namespace = record.deployment_config.get("namespace", "default")
        for api, suffix, name in objects:
            try:
                found = getattr(api, f"read_{suffix}")(name, namespace)
            except ApiException as error:
                if error.status == 404:
                    continue
                raise DeploymentError(_api_error(error, {"kind": suffix, "metadata": {"name": name}})) from None
            if _ours(found.metadata.labels, record.name):
                getattr(api, f"delete_{suffix}")(name, namespace)

    def _delete_scaled_object_if_ours(self, record: ServiceRecord) -> None:
        """The service's KEDA ScaledObject, when there is one of ours (a cluster without KEDA has none)."""
        from kubernetes import client
        from kubernetes.client.exceptions import ApiException

        namespace = record.deployment_config.get("namespace", "default")
        custom = client.CustomObjectsApi(self._client(record.deployment_config))
        try:
            found = custom.get_namespaced_custom_object(namespace=namespace, name=record.name, **KEDA)
        except ApiException:
            return
        if _ours(found["metadata"].get("labels"), record.name):
            custom.delete_namespaced_custom_object(namespace=namespace, name=record.name, **KEDA)


def _ours(labels: dict[str, str] | None, name: str) -> bool:
    labels = labels or {}
    return labels.get(MANAGED_BY) == kube_manifests.MANAGED_BY and labels.get(kube_manifests.SERVICE_LABEL) == name


def _restarting(pod: dict[str, Any]) -> bool:
    """A pod whose container restarted and is not ready now (crash loop, OOM kills)."""
    statuses = pod.get("status", {}).get("containerStatuses") or []
    return any(status.get("restartCount") and not status.get("ready") for status in statuses)


def _rolled_out(deployment: dict[str, Any]) -> bool:
    status = deployment.get("status") or {}
    wanted = deployment["spec"].get("replicas", 1)
    return (
        status.get("observedGeneration", 0) >= deployment["metadata"].get("generation", 0)
        and (status.get("updatedReplicas") or 0) >= wanted
        and (status.get("readyReplicas") or 0) >= wanted
    )


def _api_error(error: Any, manifest: dict[str, Any]) -> str:
    return (
        f"The cluster refused {manifest['kind']} {manifest['metadata']['name']}: {error.status} {error.reason}. "
        "Check that your kubeconfig's user may create Deployments, Services, Secrets and HorizontalPodAutoscalers "
        "in the namespace (or name another namespace)."
    )

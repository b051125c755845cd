"""A FAKE Kubernetes API server, for tests only: no cluster or API server can be had on our machines.

It speaks the API's REST shape on 127.0.0.1 (create, read, list by label, replace, patch, delete for the kinds
mldeploy uses; pod logs; the service proxy), keeps objects in memory, and plays a *scenario* when a
Deployment is applied: the scenario makes the pods, events and logs a real cluster would show (healthy,
crash loop, unschedulable, OOM, image pull), so that the client flow and the diagnosis meet realistic objects.
The service proxy forwards to a real scoring server on 127.0.0.1 when the test gives one.
"""

import datetime
import json
import re
import threading
import urllib.request
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

PATH = re.compile(
    r"^/(?:api/v1|apis/(?P<group>[\w.]+/\w+))/namespaces/(?P<namespace>[\w-]+)/(?P<resource>\w+)"
    r"(?:/(?P<name>[\w.:-]+))?(?:/(?P<sub>log|proxy)(?P<rest>/.*)?)?$"
)
KINDS = {"secrets": "Secret", "services": "Service", "pods": "Pod", "events": "Event", "deployments": "Deployment",
         "horizontalpodautoscalers": "HorizontalPodAutoscaler", "scaledobjects": "ScaledObject"}  # fmt: skip
FORWARDED = ("content-type", "x-mldeploy-key")
Scenario = Callable[["FakeCluster", dict[str, Any]], None]


def now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class FakeCluster:
    def __init__(self, scenario: Scenario) -> None:
        self.objects: dict[tuple[str, str, str], dict[str, Any]] = {}  # (resource, namespace, name) → object
        self.logs: dict[tuple[str, bool], str] = {}  # (pod name, previous) → log
        self.scenario = scenario
        self.proxy_to: str | None = None  # base URL of a real scoring server behind the Service
        self.requests: list[tuple[str, str]] = []
        self.lock = threading.Lock()

    def put(self, resource: str, manifest: dict[str, Any]) -> dict[str, Any]:
        metadata = manifest.setdefault("metadata", {})
        metadata.setdefault("namespace", "default")
        metadata.setdefault("creationTimestamp", now())
        metadata["generation"] = int(metadata.get("generation", 0)) + 1
        manifest.setdefault("kind", KINDS[resource])
        self.objects[(resource, metadata["namespace"], metadata["name"])] = manifest
        return manifest

    def add_event(self, namespace: str, involved: str, reason: str, message: str) -> None:
        name = f"{involved}.{len(self.objects)}"
        self.put("events", {"apiVersion": "v1", "kind": "Event", "type": "Warning", "reason": reason,
                            "message": message, "metadata": {"name": name, "namespace": namespace},
                            "involvedObject": {"kind": "Pod", "name": involved}})  # fmt: skip

    def listed(self, resource: str, namespace: str, selector: str | None) -> list[dict[str, Any]]:
        wanted = dict(part.split("=", 1) for part in selector.split(",")) if selector else {}
        return [item for (kind, space, _), item in sorted(self.objects.items(), key=lambda entry: entry[0])
                if kind == resource and space == namespace
                and all(item["metadata"].get("labels", {}).get(k) == v for k, v in wanted.items())]  # fmt: skip


class _Handler(BaseHTTPRequestHandler):
    cluster: FakeCluster

    def log_message(self, *args: Any) -> None:
        return

    def _send(self, status: int, body: Any, content_type: str = "application/json") -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _status(self, code: int, reason: str, message: str) -> None:
        self._send(code, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": reason,
                          "message": message, "code": code})  # fmt: skip

    def _body(self) -> dict[str, Any]:
        size = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(size) or b"{}")

    def _route(self, method: str) -> None:
        path, _, query = self.path.partition("?")
        params = dict(part.split("=", 1) for part in query.split("&") if "=" in part)
        cluster = self.cluster
        cluster.requests.append((method, path))
        match = PATH.match(path)
        if match is None:
            self._status(404, "NotFound", f"fake API server: no route for {path}")
            return
        resource, namespace, name = match["resource"], match["namespace"], match["name"]
        if match["sub"] == "proxy":
            self._proxy(match["rest"] or "/")
            return
        with cluster.lock:
            key = (resource, namespace, name or "")
            if match["sub"] == "log":
                self._send(
                    200,
                    cluster.logs.get((name, params.get("previous", "").lower() == "true"), "").encode(),
                    "text/plain",
                )
            elif method == "GET" and name is None:
                selector = urllib.request.unquote(params.get("labelSelector", "")) or None
                items = cluster.listed(resource, namespace, selector)
                self._send(200, {"kind": f"{KINDS[resource]}List", "apiVersion": "v1", "metadata": {},
                                 "items": items})  # fmt: skip
            elif method == "POST":
                manifest = self._body()
                if (resource, namespace, manifest["metadata"]["name"]) in cluster.objects:
                    self._status(409, "AlreadyExists", f"{resource} {manifest['metadata']['name']} already exists")
                    return
                self._created(resource, cluster.put(resource, manifest), 201)
            elif key not in cluster.objects:
                self._status(404, "NotFound", f'{resource} "{name}" not found')
            elif method == "GET":
                self._send(200, cluster.objects[key])
            elif method in ("PUT", "PATCH"):
                current = cluster.objects[key]
                manifest = {**current, **self._body()} if method == "PATCH" else self._body()
                manifest.setdefault("metadata", {})["generation"] = current["metadata"]["generation"]
                manifest["metadata"]["creationTimestamp"] = current["metadata"]["creationTimestamp"]
                self._created(resource, cluster.put(resource, manifest), 200)
            else:
                self._send(200, cluster.objects.pop(key))

    def _created(self, resource: str, manifest: dict[str, Any], status: int) -> None:
        if resource == "deployments":
            self.cluster.scenario(self.cluster, manifest)
        self._send(status, manifest)

    def _proxy(self, rest: str) -> None:
        if self.cluster.proxy_to is None:
            self._status(503, "ServiceUnavailable", "no endpoints available for service")
            return
        body = self._body_bytes()
        # as the real API server does, the caller's Authorization header (its API credentials) is not forwarded
        headers = {key: value for key, value in self.headers.items() if key.lower() in FORWARDED}
        request = urllib.request.Request(self.cluster.proxy_to + rest, data=body or None, headers=headers,
                                         method=self.command)  # fmt: skip
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                self._send(answer.status, answer.read(), answer.headers.get("Content-Type", "application/json"))
        except urllib.error.HTTPError as error:
            self._send(error.code, error.read(), error.headers.get("Content-Type", "application/json"))

    def _body_bytes(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def do_GET(self) -> None:
        self._route("GET")

    def do_POST(self) -> None:
        self._route("POST")

    def do_PUT(self) -> None:
        self._route("PUT")

    def do_PATCH(self) -> None:
        self._route("PATCH")

    def do_DELETE(self) -> None:
        self._route("DELETE")


class FakeApiServer:
    """``with FakeApiServer(scenario) as server:`` serves on 127.0.0.1 and writes a kubeconfig for it."""

    def __init__(self, scenario: Scenario, folder: Path) -> None:
        self.cluster = FakeCluster(scenario)
        handler = type("Handler", (_Handler,), {"cluster": self.cluster})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.kubeconfig = folder / "kubeconfig"
        self.kubeconfig.write_text(yaml.safe_dump({
            "apiVersion": "v1", "kind": "Config", "current-context": "fake",
            "clusters": [{"name": "fake", "cluster": {"server": self.url}}],
            "users": [{"name": "fake", "user": {"token": "fake-token"}}],
            "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "fake"}}],
        }))  # fmt: skip

    def __enter__(self) -> "FakeApiServer":
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

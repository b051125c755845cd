"""Routes of the scoring server, answered as the reference server answers them.

The front does routing, authentication, header checks, admission and timeouts; parsing the input,
calling run() and encoding its result happen in a worker process.
"""

import hmac
import time
import uuid
from urllib.parse import parse_qsl

from .. import __version__
from .access_log import AccessLog
from .bodies import BodyReader, BodyRefused
from .config import ServerConfig
from .cors import Cors
from .metrics import ServerMetrics
from .outputs import OPTIONS_REPLY, Headers, error_reply
from .pool import Overloaded, WorkerDied, WorkerPool, WorkerTimedOut
from .swagger import valid_aliases

Answer = tuple[int, Headers, bytes]

HEADER_LIMIT = 100
SERVER_VERSION = f"mldeploy/{__version__}"
KEY_HEADER = "x-mldeploy-key"  # the service key, where Authorization cannot carry it (a Kubernetes API proxy)
NOT_FOUND = (
    "The requested URL was not found on the server. If you entered the URL manually please check your "
    "spelling and try again."
)
NOT_ALLOWED = "The method is not allowed for the requested URL."
HEALTHY: Answer = (200, [("Content-Type", "text/html; charset=utf-8")], b"Healthy")
ALLOW_GET = [("Content-Type", "text/html; charset=utf-8"), ("Allow", "GET, HEAD, OPTIONS")]
SWAGGER_ALIASES = valid_aliases()
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
ROUTES = {"/": READ_METHODS, "/score": READ_METHODS | {"POST"}, "/swagger.json": READ_METHODS}


def error_answer(status: int, message: str, **extra: str) -> Answer:
    reply = error_reply(status, message, **extra)
    return reply[0], reply[1], reply[2]


class RequestIds:
    """x-request-id / x-ms-request-id / x-ms-client-request-id handling of the reference."""

    __slots__ = ("client", "legacy", "request")

    def __init__(self, headers: dict[str, str]) -> None:
        self.request = headers.get("x-request-id") or str(uuid.uuid4())
        legacy = headers.get("x-ms-request-id", "")
        client = headers.get("x-ms-client-request-id", "")
        if legacy:
            client = client or legacy
        else:
            legacy = client or self.request
        self.legacy = legacy
        self.client = client

    def problem(self) -> str | None:
        """The 431 message when an id is too long; the ids that are too long are then not echoed."""
        if len(self.request) > HEADER_LIMIT:
            self.request = self.legacy = self.client = ""
            return f"x-request-id must not exceed {HEADER_LIMIT} characters"
        if len(self.legacy) > HEADER_LIMIT or len(self.client) > HEADER_LIMIT:
            self.legacy = self.client = ""
            return f"x-ms-request-id and x-ms-client-request-id must not exceed {HEADER_LIMIT} characters"
        return None

    def headers(self) -> Headers:
        out = [("x-ms-server-version", SERVER_VERSION)]
        if self.request:
            out.append(("x-request-id", self.request))
        if self.legacy:
            out.append(("x-ms-request-id", self.legacy))
        if self.client:
            out.append(("x-ms-client-request-id", self.client))
        return out


class ScoringApp:
    def __init__(self, pool: WorkerPool, metrics: ServerMetrics, access_log: AccessLog) -> None:
        self.access_log = access_log
        self.pool = pool
        self.metrics = metrics
        self._keys_of: tuple[str, ...] = ()
        self._keys: list[bytes] = []
        self._cors_rules: tuple[str, Cors] | None = None

    async def handle(self, method: str, path: str, query: str, headers: Headers, body: BodyReader) -> Answer:
        """Answer one request. ``headers`` names are lower-case; ``body`` is read only once the request is
        admitted (a known route and method, the key when auth is on, room in the body budget)."""
        started = time.perf_counter()
        header_map = dict(headers)
        if path in ROUTES and method not in ROUTES[path]:
            status, out, payload = error_answer(405, NOT_ALLOWED)
        elif path in ROUTES:
            ids = RequestIds(header_map)
            problem = ids.problem()
            if problem:
                status, out, payload = error_answer(431, problem)
            elif path == "/score":
                try:
                    status, out, payload = await self._score(method, path, query, headers, header_map, body)
                except BodyRefused as refused:
                    status, out, payload = refused.answer
            elif path == "/":
                status, out, payload = self._health(method)
            else:
                status, out, payload = self._swagger(method, query)
            out = out + ids.headers()
            if self.config.cors_origins:
                out += self._cors().headers(method, header_map)
        elif path == "/metrics" and method in ("GET", "HEAD"):
            status, out, payload = 200, [("Content-Type", self.metrics.content_type)], self.metrics.render()
        else:
            status, out, payload = error_answer(404, NOT_FOUND)
        if "traceid" in header_map:
            out.append(("TraceId", header_map["traceid"]))
        elapsed = time.perf_counter() - started
        self.metrics.observe(path if path in ROUTES or path == "/metrics" else "other", status, elapsed)
        if path != "/":
            self.access_log.record(method, path, status, elapsed * 1000, len(payload))
        return status, out, payload

    def _health(self, method: str) -> Answer:
        if method == "OPTIONS":
            return 200, list(ALLOW_GET), b""
        if self.pool.ready_count:
            return HEALTHY[0], list(HEALTHY[1]), HEALTHY[2]
        return error_answer(503, "The scoring script's init() has not finished in any worker yet.")

    def _swagger(self, method: str, query: str) -> Answer:
        if method == "OPTIONS":
            return 200, list(ALLOW_GET), b""
        info = self.pool.info
        if info is None:
            return error_answer(503, "The scoring script has not started yet; try again once GET / answers Healthy.")
        version = next((value for key, value in parse_qsl(query, keep_blank_values=True) if key == "version"), "2")
        supported = ", ".join(info["swagger_versions"])
        if version not in SWAGGER_ALIASES:
            return error_answer(404, f"Swagger version [{version}] is not valid. Supported versions: [{supported}].")
        document = info["swagger"].get(version)
        if document is None:
            return error_answer(
                404,
                f"Swagger version [{version}] is not supported for the scoring script. "
                f"Supported swagger versions: [{supported}].",
            )
        return 200, [("Content-Type", "application/json"), ("x-ms-run-function-failed", "False")], document

    def _cors(self) -> Cors:
        origins = self.config.cors_origins or ""
        if self._cors_rules is None or self._cors_rules[0] != origins:
            self._cors_rules = (origins, Cors(origins))
        return self._cors_rules[1]

    @property
    def config(self) -> ServerConfig:
        """The settings of the workers now serving (a reload may change them)."""
        return self.pool.config

    def _authorized(self, header_map: dict[str, str]) -> bool:
        if self.config.auth_keys != self._keys_of:
            self._keys_of = self.config.auth_keys
            self._keys = [key.encode() for key in self._keys_of]
        if not self._keys:
            return True
        scheme, _, token = header_map.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer":
            given = token.strip().encode()
        else:  # through the Kubernetes API server's proxy, which keeps Authorization for itself
            given = header_map.get(KEY_HEADER, "").strip().encode()
        return bool(given) and any(hmac.compare_digest(given, key) for key in self._keys)

    async def _score(
        self, method: str, path: str, query: str, headers: Headers, header_map: dict[str, str], body: BodyReader
    ) -> Answer:
        if not self._authorized(header_map):
            if method == "OPTIONS":  # a CORS preflight carries no key: answered here, run() never sees it
                return OPTIONS_REPLY[0], list(OPTIONS_REPLY[1]), OPTIONS_REPLY[2]
            status, out, payload = error_answer(
                401, "Authentication failed: send the service key as the header 'Authorization: Bearer <key>'."
            )
            return status, [*out, ("WWW-Authenticate", "Bearer")], payload
        return await self._dispatch(method, path, query, headers, await body())

    def _overloaded(self) -> Answer:
        status, out, payload = error_answer(
            503,
            f"The service is busy: all {self.config.max_concurrent_requests} request slots stayed taken for "
            f"{self.config.max_request_wait_ms} ms. Retry later, or add workers or replicas.",
        )
        return status, [*out, ("Retry-After", "1")], payload

    async def _dispatch(self, method: str, path: str, query: str, headers: Headers, body: bytes) -> Answer:
        try:
            status, out, payload, exec_ms = await self.pool.submit((method, path, query, headers, body))
        except Overloaded:
            return self._overloaded()
        except WorkerTimedOut:
            return error_answer(
                504,
                f"Scoring timeout after {self.config.scoring_timeout_ms} ms: run() did not finish in time and "
                "its worker was replaced. Make run() faster or raise the scoring timeout.",
            )
        except WorkerDied:
            return error_answer(
                502,
                "The worker process running this request died (crash, os._exit or out of memory) and is being "
                "restarted. Check the service logs for the cause.",
            )
        if exec_ms is not None:
            out.append(("x-ms-run-fn-exec-ms", f"{exec_ms:.3f}"))
        return status, out, payload

"""Routes of the scoring server, answered as the reference server answers them.

The front does routing, authentication, header checks, admission and timeouts; parsing the input,
calling run() and encoding its result happen in a worker process. A request is decided in two steps, so
that a refused one never has its body read: ``admit`` when its head is complete (an answer, or None when
it goes on to a worker), then ``score`` with its body, whose outcome ``answer`` turns into the answer.
``complete`` adds what every answer carries.
"""

import hmac
import time
from typing import Any
from urllib.parse import parse_qsl

from .access_log import AccessLog
from .config import ServerConfig
from .cors import Cors
from .dispatch import Overloaded, WorkerDied, WorkerTimedOut
from .metrics import ServerMetrics
from .outputs import OPTIONS_REPLY, error_reply, header_lines
from .pool import WorkerPool
from .request import Request
from .swagger import valid_aliases
from .wire import JSON_LINES, RETRY_LATER, Answer

KEY_HEADER = "x-mldeploy-key"  # the service key, where Authorization cannot carry it (a Kubernetes API proxy)
NOT_FOUND = (
    "The requested URL was not found on the server. If you entered the URL manually please check your "
    "spelling and try again."
)
NOT_ALLOWED = "The method is not allowed for the requested URL."
HTML_LINES = "Content-Type: text/html; charset=utf-8\r\n"
HEALTHY: Answer = (200, HTML_LINES, b"Healthy")
ALLOW_GET: Answer = (200, f"{HTML_LINES}Allow: GET, HEAD, OPTIONS\r\n", b"")
SWAGGER_LINES = f"{JSON_LINES}x-ms-run-function-failed: False\r\n"
OPTIONS_ANSWER: Answer = (OPTIONS_REPLY[0], header_lines(OPTIONS_REPLY[1]), OPTIONS_REPLY[2])
SWAGGER_ALIASES = valid_aliases()
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
ROUTES = {"/": READ_METHODS, "/score": READ_METHODS | {"POST"}, "/swagger.json": READ_METHODS}
STARTING = "The scoring script's init() has not finished in any worker yet."
NO_WORKER = (
    "No worker is serving: the workers ended (the service log says why) and their replacements are starting or "
    "could not start."
)


def error_answer(status: int, message: str, *lines: str) -> Answer:
    """The reference's JSON error answer, with more header ``lines`` after its own."""
    reply = error_reply(status, message)
    return reply[0], header_lines(reply[1]) + "".join(lines), reply[2]


class ScoringApp:
    def __init__(self, pool: WorkerPool, metrics: ServerMetrics, access_log: AccessLog) -> None:
        self.access_log = access_log
        self.pool = pool
        self.metrics = metrics
        self._keys_of: tuple[str, ...] = ()
        self._keys: list[bytes] = []
        self._cors_rules: tuple[str, Cors] | None = None

    def admit(self, request: Request) -> Answer | None:
        """The answer to a request whose head is complete, or None when it is admitted to a worker (a scoring
        request with the key when auth is on): its body is then read and given to ``score``."""
        method, path = request.method, request.path
        allowed = ROUTES.get(path)
        if allowed is None:
            if path == "/metrics" and method in ("GET", "HEAD"):
                return 200, f"Content-Type: {self.metrics.content_type}\r\n", self.metrics.render()
            return error_answer(404, NOT_FOUND)
        if method not in allowed:
            return error_answer(405, NOT_ALLOWED)
        problem = request.read_ids()
        if problem:
            return error_answer(431, problem)
        if path == "/score":
            return self._refusal(request)
        if path == "/":
            return self._health(method)
        return self._swagger(method, request.query)

    def score(self, request: Request, body: bytes | bytearray) -> None:
        """Hand an admitted request to a worker; its ``settle`` gets the reply or why there is none (``answer``
        turns either into the answer)."""
        request.message = (request.method, request.path, request.query, request.headers, body)
        self.pool.submit(request)

    def complete(self, request: Request, status: int, size: int) -> str:
        """The header lines every answer adds (ids, CORS, TraceId); the answer (its status, its payload's
        ``size``) is counted in the metrics and the access log."""
        lines = request.id_lines()
        if lines:
            origins = self.config.cors_origins
            if origins:
                lines += header_lines(self._cors(origins).headers(request.method, request.header_map))
        traceid = request.header_map.get("traceid")
        if traceid is not None:
            lines += f"TraceId: {traceid}\r\n"
        elapsed = time.perf_counter() - request.received
        path = request.path
        self.metrics.observe(path if path in ROUTES or path == "/metrics" else "other", status, elapsed)
        if path != "/":
            self.access_log.record(request.method, path, status, elapsed * 1000, size)
        return lines

    def _health(self, method: str) -> Answer:
        if method == "OPTIONS":
            return ALLOW_GET
        unserved = self._unserved()
        return HEALTHY if unserved is None else error_answer(503, unserved)

    def _unserved(self) -> str | None:
        """Why no worker can take a request now (none started yet, or none left), or None when one can."""
        if self.pool.ready_count:
            return None
        return STARTING if self.pool.info is None else NO_WORKER

    def _swagger(self, method: str, query: str) -> Answer:
        if method == "OPTIONS":
            return ALLOW_GET
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
        return 200, SWAGGER_LINES, document

    def _cors(self, origins: str) -> Cors:
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

    def _refusal(self, request: Request) -> Answer | None:
        """Why a scoring request is not let through (no valid key), or None."""
        if self._authorized(request.header_map):
            return None
        if request.method == "OPTIONS":  # a CORS preflight carries no key: answered here, run() never sees it
            return OPTIONS_ANSWER
        return error_answer(
            401,
            "Authentication failed: send the service key as the header 'Authorization: Bearer <key>'.",
            "WWW-Authenticate: Bearer\r\n",
        )

    def _overloaded(self) -> Answer:
        busy = (
            f"The service is busy: all {self.config.max_concurrent_requests} request slots stayed taken for "
            f"{self.config.max_request_wait_ms} ms. Retry later, or add workers or replicas."
        )
        return error_answer(503, self._unserved() or busy, RETRY_LATER)

    def answer(self, result: Any, error: Exception | None) -> Answer:
        """A worker's reply as an answer, or the answer for why there is none."""
        if error is None:
            status, out, payload, exec_ms = result
            if exec_ms is not None:  # ``out``: the worker's header lines
                out += f"x-ms-run-fn-exec-ms: {exec_ms:.3f}\r\n"
            return status, out, payload
        if isinstance(error, Overloaded):
            return self._overloaded()
        if isinstance(error, WorkerTimedOut):
            return error_answer(
                504,
                f"Scoring timeout after {self.config.scoring_timeout_ms} ms: run() did not finish in time and "
                "its worker was replaced. Make run() faster or raise the scoring timeout.",
            )
        if isinstance(error, WorkerDied):
            return error_answer(
                502,
                "The worker process running this request died (crash, os._exit or out of memory) and is being "
                "restarted. Check the service logs for the cause.",
            )
        raise error

"""Server settings: command-line values first, then the reference server's environment variables, then defaults."""

import dataclasses
import json
import logging
import os
import socket
from dataclasses import dataclass, field

from .debugger import DEBUG_ADDRESS_ENV, DEBUG_WAIT_ENV
from .legacy import COMPAT_ENV as ENV_LEGACY_COMPAT

DEFAULT_PORT = 5001
DEFAULT_HOST = "127.0.0.1"
DEFAULT_SCORING_TIMEOUT_MS = 60_000
DEFAULT_MAX_REQUEST_WAIT_MS = 500
MIB = 1024 * 1024
DEFAULT_MAX_BODY_BYTES = 100 * MIB
DEFAULT_INIT_RETRIES = 2
DEFAULT_MAX_BUFFERED_BYTES = 256 * MIB
DEFAULT_MAX_HEADER_BYTES = 64 * 1024
DEFAULT_MAX_HEADERS = 100  # as gunicorn's limit_request_fields, which the reference server runs on
DEFAULT_MAX_CONNECTIONS = 4096
DEFAULT_READ_TIMEOUT_S = 30.0

ENV_ENTRY_SCRIPT = "AZUREML_ENTRY_SCRIPT"
ENV_MODEL_DIR = "AZUREML_MODEL_DIR"
ENV_APP_ROOT = "AML_APP_ROOT"
ENV_SOURCE_DIR = "AZUREML_SOURCE_DIRECTORY"
ENV_SCORING_TIMEOUT = "SCORING_TIMEOUT_MS"
ENV_WORKER_COUNT = "WORKER_COUNT"
ENV_AUTH_KEYS = "MLDEPLOY_AUTH_KEYS"  # comma-separated service keys; replace those of the config file
SHUTDOWN_MARGIN_S = 2.0  # past the scoring timeout: time to answer the last requests and stop the workers


class ConfigError(ValueError):
    """A setting that cannot work; the message names the setting and the fix."""


MISSING_KEY = (
    f"This server serves /score with a key, and none was given. Give it at run time: docker run --network host "
    f"-e {ENV_AUTH_KEYS}=KEY IMAGE (two keys: KEY1,KEY2), or --env-file with the file `mldeploy package` wrote; "
    "a service's keys: `mldeploy service keys NAME` (`mldeploy service start NAME` runs its image with them). "
    "To serve without a key, package the image with --no-auth, or deploy the service without --auth."
)


@dataclass(frozen=True)
class ServerConfig:
    entry_script: str
    app_root: str
    model_dir: str | None = None
    source_dir: str | None = None
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    workers: int = 1
    scoring_timeout_ms: int = DEFAULT_SCORING_TIMEOUT_MS
    max_concurrent_requests: int = 1
    max_request_wait_ms: int = DEFAULT_MAX_REQUEST_WAIT_MS
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    max_buffered_bytes: int = DEFAULT_MAX_BUFFERED_BYTES  # request bodies held at once, all requests together
    max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES  # request line and headers of one request
    max_headers: int = DEFAULT_MAX_HEADERS  # headers of one request
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    read_timeout_s: float = DEFAULT_READ_TIMEOUT_S  # for a request head, then again for its body
    debug_errors: bool = False
    auth_keys: tuple[str, ...] = field(default=())
    require_auth: bool = False  # refuse to start without a key (an image whose keys come at run time)
    init_retries: int = DEFAULT_INIT_RETRIES
    python: str | None = None  # the workers' interpreter; None: the front's own
    cors_origins: str | None = None  # AML_CORS_ORIGINS: comma-separated origins allowed by CORS
    spare_worker: bool = False  # keep one warm process ready: reloads and replacements skip slow imports
    status_file: str | None = None  # where the front reports each (re)start's outcome, for the control plane
    debug_port: int | None = None  # the worker waits for a debugger (debugpy) on host:debug_port before init()
    debug_wait_s: float = 30.0
    max_requests_per_worker: int = 0  # a worker that answered this many is replaced (a new one first); 0: never
    max_worker_rss_mb: int = 0  # a worker whose resident memory passes this is replaced the same way; 0: never
    max_response_bytes: int = 0  # a larger answer of run() is replaced by a 500 saying so; 0: no limit
    legacy_compat: bool = False  # the workers install the legacy shims (docs/troubleshooting/legacy.md)
    # share the port with the next server of the same service (SO_REUSEPORT; scoring/reuseport.py): written
    # by the Docker target only, so that unrelated servers never share a port; no command-line flag
    reuse_port: bool = False

    @property
    def shutdown_grace_s(self) -> float:
        """How long a SIGTERM'd server may take: requests in flight finish (or reach their timeout), then it exits.

        A request admitted just before SIGTERM may wait in line up to the queue wait, then run up to the scoring
        timeout. A supervisor (Docker's stop timeout, Kubernetes' terminationGracePeriodSeconds) must allow more.
        """
        return (self.max_request_wait_ms + self.scoring_timeout_ms) / 1000 + SHUTDOWN_MARGIN_S

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2)

    @classmethod
    def from_file(cls, path: str) -> "ServerConfig":
        """A config written by ``to_json``; MLDEPLOY_HOST / MLDEPLOY_PORT override its address (an image's own
        config listens on 0.0.0.0:5001: with --network host, on every interface of the host), and
        MLDEPLOY_LEGACY_COMPAT=1 turns legacy compatibility on. Settings this version does not know (a config
        written by a newer mldeploy for an older image) are left out, and named in the log."""
        with open(path, encoding="utf-8") as file:
            data = json.load(file)
        unknown = sorted(set(data) - {setting.name for setting in dataclasses.fields(cls)})
        if unknown:
            logging.getLogger("mldeploy.server").warning(
                "%s: settings left out, unknown to this version of the server (a newer mldeploy wrote them): %s",
                path, ", ".join(unknown),
            )  # fmt: skip
            data = {name: value for name, value in data.items() if name not in unknown}
        data["auth_keys"] = keys_from_environment() or tuple(data.get("auth_keys", ()))
        data["host"] = os.environ.get("MLDEPLOY_HOST") or data.get("host", DEFAULT_HOST)
        data["port"] = int(os.environ.get("MLDEPLOY_PORT") or data.get("port", DEFAULT_PORT))
        data["legacy_compat"] = bool(data.get("legacy_compat")) or os.environ.get(ENV_LEGACY_COMPAT) == "1"
        config = cls(**data)
        if config.require_auth and not config.auth_keys:
            raise ConfigError(MISSING_KEY)
        _check_reuse_port(config, path)
        return config

    def worker_environment(self) -> dict[str, str]:
        """The environment variables a worker (and so score.py) sees, as the reference sets them."""
        env = dict(os.environ)
        env.pop(ENV_AUTH_KEYS, None)  # score.py never sees the service keys
        env[ENV_ENTRY_SCRIPT] = self.entry_script
        env[ENV_APP_ROOT] = self.app_root
        env[ENV_SCORING_TIMEOUT] = str(self.scoring_timeout_ms)
        env[ENV_WORKER_COUNT] = str(self.workers)
        if self.model_dir is not None:
            env[ENV_MODEL_DIR] = self.model_dir
        if self.source_dir is not None:
            env[ENV_SOURCE_DIR] = self.source_dir
        if self.debug_errors:
            env["MLDEPLOY_DEBUG_ERRORS"] = "1"
        if self.max_response_bytes:
            env["MLDEPLOY_MAX_RESPONSE_BYTES"] = str(self.max_response_bytes)
        env.pop(ENV_LEGACY_COMPAT, None)
        if self.legacy_compat:
            env[ENV_LEGACY_COMPAT] = "1"
        if self.debug_port is not None:
            env[DEBUG_ADDRESS_ENV] = f"{self.host}:{self.debug_port}"
            env[DEBUG_WAIT_ENV] = str(self.debug_wait_s)
            env["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"  # only the standard library is frozen, not score.py
        return env


def keys_from_environment() -> tuple[str, ...]:
    """The service keys in $MLDEPLOY_AUTH_KEYS (comma-separated), so that no key shows on a command line."""
    return tuple(key.strip() for key in os.environ.get(ENV_AUTH_KEYS, "").split(",") if key.strip())


def _env_int(name: str) -> int | None:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return None
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"The environment variable {name}={raw!r} is not a whole number; set it to one.") from None


def build_config(
    entry_script: str | None,
    *,
    model_dir: str | None = None,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    workers: int | None = None,
    scoring_timeout_ms: int | None = None,
    max_concurrent_requests: int | None = None,
    max_request_wait_ms: int = DEFAULT_MAX_REQUEST_WAIT_MS,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    max_buffered_bytes: int = DEFAULT_MAX_BUFFERED_BYTES,
    max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES,
    max_headers: int = DEFAULT_MAX_HEADERS,
    max_connections: int = DEFAULT_MAX_CONNECTIONS,
    read_timeout_s: float = DEFAULT_READ_TIMEOUT_S,
    debug_errors: bool = False,
    auth_keys: tuple[str, ...] = (),
    init_retries: int = DEFAULT_INIT_RETRIES,
    legacy_compat: bool = False,
    max_requests_per_worker: int = 0,
    max_worker_rss_mb: int = 0,
    max_response_bytes: int = 0,
) -> ServerConfig:
    """Merge command-line values with the reference's environment variables and check them."""
    app_root = os.environ.get(ENV_APP_ROOT) or os.getcwd()
    if entry_script:
        script_path = os.path.realpath(entry_script)
    elif os.environ.get(ENV_ENTRY_SCRIPT):
        script_path = os.path.join(app_root, os.environ[ENV_ENTRY_SCRIPT])
    else:
        raise ConfigError("No entry script given. Pass it as `mldeploy serve score.py` or set AZUREML_ENTRY_SCRIPT.")
    if not os.path.isfile(script_path):
        raise ConfigError(
            f"The entry script {script_path} does not exist. Check the path (relative paths are resolved "
            f"from the current directory), or set AML_APP_ROOT to the folder that holds it."
        )
    worker_count = workers if workers is not None else (_env_int(ENV_WORKER_COUNT) or 1)
    timeout_ms = scoring_timeout_ms if scoring_timeout_ms is not None else _env_int(ENV_SCORING_TIMEOUT)
    config = ServerConfig(
        entry_script=os.path.realpath(script_path),
        app_root=os.path.realpath(app_root),
        model_dir=model_dir if model_dir is not None else os.environ.get(ENV_MODEL_DIR),
        source_dir=os.environ.get(ENV_SOURCE_DIR),
        host=host,
        port=port,
        workers=worker_count,
        scoring_timeout_ms=timeout_ms if timeout_ms is not None else DEFAULT_SCORING_TIMEOUT_MS,
        max_concurrent_requests=max_concurrent_requests or worker_count,
        max_request_wait_ms=max_request_wait_ms,
        max_body_bytes=max_body_bytes,
        max_buffered_bytes=max_buffered_bytes,
        max_header_bytes=max_header_bytes,
        max_headers=max_headers,
        max_connections=max_connections,
        read_timeout_s=read_timeout_s,
        cors_origins=os.environ.get("AML_CORS_ORIGINS") or None,
        debug_errors=debug_errors,
        auth_keys=tuple(auth_keys) or keys_from_environment(),
        init_retries=init_retries,
        legacy_compat=legacy_compat or os.environ.get(ENV_LEGACY_COMPAT) == "1",
        max_requests_per_worker=max_requests_per_worker,
        max_worker_rss_mb=max_worker_rss_mb,
        max_response_bytes=max_response_bytes,
    )
    _check(config)
    return config


def _check_reuse_port(config: ServerConfig, path: str) -> None:
    if not isinstance(config.reuse_port, bool):
        raise ConfigError(f"reuse_port in {path} is {config.reuse_port!r}; set it to true or false.")
    if config.reuse_port and not hasattr(socket, "SO_REUSEPORT"):
        raise ConfigError(
            f"reuse_port is set in {path}, and this system has no SO_REUSEPORT (Linux has it): set it to false."
        )


def _check(config: ServerConfig) -> None:
    if not 1 <= config.port <= 65535:
        raise ConfigError(f"Port {config.port} is outside 1-65535; choose a free port such as 5001.")
    if config.workers < 1:
        raise ConfigError(f"Worker count {config.workers} must be at least 1 (WORKER_COUNT or --workers).")
    if config.scoring_timeout_ms < 1:
        raise ConfigError("The scoring timeout must be at least 1 ms (SCORING_TIMEOUT_MS or --scoring-timeout-ms).")
    if config.max_concurrent_requests < 1:
        raise ConfigError("--max-concurrent-requests must be at least 1.")
    if config.max_request_wait_ms < 0:
        raise ConfigError("--max-request-wait-ms cannot be negative.")
    if config.init_retries < 0:
        raise ConfigError("--init-retries cannot be negative.")
    if config.max_body_bytes < 1:
        raise ConfigError("--max-body-mb must be more than 0.")
    if config.max_buffered_bytes < config.max_body_bytes:
        raise ConfigError(
            f"--max-buffered-mb ({config.max_buffered_bytes / MIB:g}) is below --max-body-mb "
            f"({config.max_body_bytes / MIB:g}): no body of the largest size could ever be taken. Raise it."
        )
    if config.max_header_bytes < 1024:
        raise ConfigError("--max-header-kb must be at least 1.")
    if config.max_headers < 1:
        raise ConfigError(f"--max-headers must be at least 1 (default {DEFAULT_MAX_HEADERS}).")
    if config.max_connections < 1:
        raise ConfigError("--max-connections must be at least 1.")
    if config.read_timeout_s <= 0:
        raise ConfigError("--read-timeout-s must be more than 0.")
    if config.max_response_bytes < 0:
        raise ConfigError("--max-response-mb cannot be negative (0: no limit).")
    if config.max_requests_per_worker < 0 or config.max_worker_rss_mb < 0:
        raise ConfigError("--max-requests-per-worker and --max-worker-rss-mb cannot be negative (0: no limit).")

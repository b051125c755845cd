"""``mldeploy serve``: run a scoring script as an HTTP service in the current Python environment."""

from pathlib import Path
from typing import Annotated

import typer

from ..scoring.config import (
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_MAX_BUFFERED_BYTES,
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_MAX_HEADER_BYTES,
    DEFAULT_MAX_HEADERS,
    DEFAULT_PORT,
    DEFAULT_READ_TIMEOUT_S,
    ENV_AUTH_KEYS,
    ENV_LEGACY_COMPAT,
    MIB,
    ConfigError,
    build_config,
)
from .output import fail


def read_key_file(path: Path) -> tuple[str, ...]:
    """The keys in ``path``: one per line; blank lines and lines starting with # are skipped."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(
            f"Cannot read the key file {path}: {error}. Give a readable text file, one key per line."
        ) from None
    keys = tuple(line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#"))
    if not keys:
        raise ConfigError(f"The key file {path} holds no key. Write one key per line (primary, then secondary).")
    return keys


def serve(
    entry_script: Annotated[
        str | None, typer.Argument(help="The scoring script (score.py). Default: $AZUREML_ENTRY_SCRIPT.")
    ] = None,
    model_dir: Annotated[
        str | None, typer.Option(help="Sets AZUREML_MODEL_DIR exactly as given (relative stays relative).")
    ] = None,
    port: Annotated[int, typer.Option(help="Port to listen on.")] = DEFAULT_PORT,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    workers: Annotated[
        int | None, typer.Option(help="Worker processes, each running init() once. Default: $WORKER_COUNT or 1.")
    ] = None,
    scoring_timeout_ms: Annotated[
        int | None, typer.Option(help="run() time limit; past it: 504. Default: $SCORING_TIMEOUT_MS or 60000.")
    ] = None,
    max_concurrent_requests: Annotated[
        int | None, typer.Option(help="Requests handled at once; more wait. Default: the worker count.")
    ] = None,
    max_request_wait_ms: Annotated[
        int, typer.Option(help="How long a request may wait for a free slot before a 503.")
    ] = 500,
    max_body_mb: Annotated[
        float, typer.Option(help="Largest request body accepted; larger: 413.")
    ] = DEFAULT_MAX_BODY_BYTES / 1024 / 1024,
    max_buffered_mb: Annotated[
        float, typer.Option(help="Request bodies held at once, all requests together; past it: 503.")
    ] = DEFAULT_MAX_BUFFERED_BYTES / MIB,
    max_header_kb: Annotated[
        float, typer.Option(help="Largest request line plus headers; larger: 431.")
    ] = DEFAULT_MAX_HEADER_BYTES / 1024,
    max_headers: Annotated[int, typer.Option(help="Most headers in one request; more: 431.")] = DEFAULT_MAX_HEADERS,
    max_connections: Annotated[
        int, typer.Option(help="Open connections at once; more are answered 503 and closed.")
    ] = DEFAULT_MAX_CONNECTIONS,
    read_timeout_s: Annotated[
        float, typer.Option(help="Time a request head, then its body, may take to arrive; past it: 408.")
    ] = DEFAULT_READ_TIMEOUT_S,
    debug_errors: Annotated[
        bool, typer.Option("--debug-errors", help="Add the traceback to 500 answers (never in production).")
    ] = False,
    auth_key: Annotated[
        list[str] | None,
        typer.Option(
            help=f"Require 'Authorization: Bearer KEY' on /score (repeatable). Shows in `ps`: prefer "
            f"--auth-key-file or ${ENV_AUTH_KEYS}."
        ),
    ] = None,
    auth_key_file: Annotated[
        Path | None, typer.Option(help="Read the keys from this file, one per line (keep it mode 0600).")
    ] = None,
    init_retries: Annotated[
        int, typer.Option(help="How many times a worker whose init() fails is started again before exiting.")
    ] = 2,
    legacy_compat: Annotated[
        bool,
        typer.Option(
            "--legacy-compat",
            help=f"Serve old scripts unchanged: shims for sklearn.externals.joblib/six, the removed NumPy aliases, "
            f"torch.load of the model files with weights_only=False; each one used is logged. "
            f"Also ${ENV_LEGACY_COMPAT}=1.",
        ),
    ] = False,
    max_requests_per_worker: Annotated[
        int,
        typer.Option(
            help="Replace a worker after it answered this many requests (a new one starts first: no request "
            "fails); 0: never."
        ),
    ] = 0,
    max_worker_rss_mb: Annotated[
        int,
        typer.Option(
            help="Replace a worker whose resident memory passes this many MiB (checked every second; a new one "
            "starts first), so a run() that leaks does not grow forever; 0: never."
        ),
    ] = 0,
    max_response_mb: Annotated[
        float, typer.Option(help="Largest answer of run(); a larger one is answered 500 saying so. 0: no limit.")
    ] = 0,
) -> None:
    """Serve ENTRY_SCRIPT on http://HOST:PORT, answering as the Azure ML inference server does."""
    try:
        keys = tuple(auth_key or ()) + (read_key_file(auth_key_file) if auth_key_file else ())
        config = build_config(
            entry_script,
            model_dir=model_dir,
            host=host,
            port=port,
            workers=workers,
            scoring_timeout_ms=scoring_timeout_ms,
            max_concurrent_requests=max_concurrent_requests,
            max_request_wait_ms=max_request_wait_ms,
            max_body_bytes=int(max_body_mb * MIB),
            max_buffered_bytes=int(max_buffered_mb * MIB),
            max_header_bytes=int(max_header_kb * 1024),
            max_headers=max_headers,
            max_connections=max_connections,
            read_timeout_s=read_timeout_s,
            debug_errors=debug_errors,
            auth_keys=keys,
            init_retries=init_retries,
            legacy_compat=legacy_compat,
            max_requests_per_worker=max_requests_per_worker,
            max_worker_rss_mb=max_worker_rss_mb,
            max_response_bytes=int(max_response_mb * MIB),
        )
    except ConfigError as error:
        fail(str(error))
    from ..scoring import compiled

    compiled.activate()
    from ..scoring.server import run  # after activate: the front's modules come from its build when there is one

    try:
        code = run(config)
    except OSError as error:
        fail(error.strerror or str(error))
    raise typer.Exit(code)

"""``mldeploy serve``: run a scoring script as an HTTP service in the current Python environment."""

from typing import Annotated

import typer

from ..scoring.config import DEFAULT_MAX_BODY_BYTES, DEFAULT_PORT, ConfigError, build_config
from .output import fail


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
    debug_errors: Annotated[
        bool, typer.Option("--debug-errors", help="Add the traceback to 500 answers (never in production).")
    ] = False,
    auth_key: Annotated[
        list[str] | None, typer.Option(help="Require 'Authorization: Bearer KEY' on /score (repeatable).")
    ] = None,
    init_retries: Annotated[
        int, typer.Option(help="How many times a worker whose init() fails is started again before exiting.")
    ] = 2,
) -> None:
    """Serve ENTRY_SCRIPT on http://HOST:PORT, answering as the Azure ML inference server does."""
    try:
        config = build_config(
            entry_script,
            model_dir=model_dir,
            host=host,
            port=port,
            workers=workers,
            scoring_timeout_ms=scoring_timeout_ms,
            max_concurrent_requests=max_concurrent_requests,
            max_request_wait_ms=max_request_wait_ms,
            max_body_bytes=int(max_body_mb * 1024 * 1024),
            debug_errors=debug_errors,
            auth_keys=tuple(auth_key or ()),
            init_retries=init_retries,
        )
    except ConfigError as error:
        fail(str(error))
    from ..scoring.server import run

    try:
        code = run(config)
    except OSError as error:
        fail(error.strerror or str(error))
    raise typer.Exit(code)

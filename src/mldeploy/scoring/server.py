"""Run one scoring server: the worker pool, the HTTP front, and a clean exit with a reason."""

import asyncio
import dataclasses
import json
import logging
import os
import signal
import sys
from collections.abc import Callable
from typing import Any

from .. import __version__
from . import compiled, heap
from .access_log import AccessLog
from .app import ScoringApp
from .bodies import BodyBudget
from .config import ServerConfig
from .connections import ConnectionLimits, fit_file_limit
from .front import Front
from .http import HttpServer, bind
from .metrics import ServerMetrics
from .pool import WorkerPool

LOG_FORMAT = "%(asctime)s %(levelname).1s [%(process)d] %(name)s - %(message)s"
EXIT_INIT_FAILED = 3
FLUSH_INTERVAL_S = 0.05  # lines formatted at once stall the loop: ~1 ms each flush at 30,000 requests per second
FRONT_ONLY_SETTINGS = ("auth_keys", "cors_origins")  # read by the front on each request, never by workers

logger = logging.getLogger("mldeploy.server")


async def _flush_periodically(access_log: AccessLog) -> None:
    while True:
        await asyncio.sleep(FLUSH_INTERVAL_S)
        access_log.flush()


def _setup_logging() -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    named = logging.getLogger("mldeploy")
    named.handlers = [handler]
    named.setLevel(logging.INFO)
    named.propagate = False


def _banner(config: ServerConfig) -> None:
    lines = [
        f"mldeploy scoring server v{__version__}",
        f"Entry script:        {config.entry_script}",
        f"App root:            {config.app_root}",
        f"Model directory:     {config.model_dir}",
        f"Workers:             {config.workers}",
        f"Scoring timeout:     {config.scoring_timeout_ms} ms",
        f"Concurrent requests: {config.max_concurrent_requests} (wait at most {config.max_request_wait_ms} ms)",
        f"Authentication:      {'key' if config.auth_keys else 'off'}",
        f"Listening on:        http://{config.host}:{config.port}  (score: POST /score, health: GET /)",
        f"Front:               {compiled.state}",
    ]
    for line in lines:
        logger.info(line)


def _report_failure(report: dict[str, Any]) -> None:
    logger.error("The scoring script could not start; the server stops.")
    for line in report.get("summary", []):
        logger.error(line)
    for line in str(report.get("fix", "")).splitlines():
        logger.error(line)


def _status_writer(path: str | None) -> Callable[..., None]:
    """Report each generation's outcome in ``path`` (atomically), for the control plane to read."""

    def write(state: str, generation: int, report: dict[str, Any] | None = None) -> None:
        if path is None:
            return
        status = {"state": state, "generation": generation, "pid": os.getpid(), "report": report}
        staging = f"{path}.{os.getpid()}.tmp"
        with open(staging, "w", encoding="utf-8") as file:
            json.dump(status, file)
        os.replace(staging, path)

    return write


def _reload(pool: WorkerPool, config_path: str | None) -> None:
    """SIGHUP: read the config file again (if any) and replace the workers, unless only keys or CORS changed."""
    try:
        config = ServerConfig.from_file(config_path) if config_path else pool.config
    except (OSError, ValueError, TypeError) as error:
        logger.error("Reload ignored: cannot read %s: %s", config_path, error)
        return
    if (config.host, config.port) != (pool.config.host, pool.config.port):
        logger.error("Reload ignored: the address cannot change while serving; restart the server instead.")
        return
    if config != pool.config and _front_only_change(pool.config, config) and pool.settled():
        pool.retune(config)
        return
    pool.reload(config)


def _front_only_change(serving: ServerConfig, new: ServerConfig) -> bool:
    """True when only settings the front reads differ: the workers (and their memory) need not change."""
    return dataclasses.replace(new, **{name: getattr(serving, name) for name in FRONT_ONLY_SETTINGS}) == serving


def _take_over_when_ready(
    server: HttpServer, pool: WorkerPool, config: ServerConfig, write_status: Callable[..., None]
) -> list[asyncio.Task[None]]:
    """Another server serves the shared port (this one replaces it): listen only once the workers are ready,
    then take every new connection (``reuseport``), then report ready; the other server is stopped after."""
    logger.info("Port %d is served by another server: listening here once the workers are ready", config.port)
    taking: list[asyncio.Task[None]] = []

    async def take_over(generation: int) -> None:
        await server.start()
        try:
            index = server.steer_here(config.host, config.port)
            logger.info("Listening; every new connection comes here now (index %d of the port's group)", index)
        except OSError as error:
            logger.warning("Listening; new connections are shared with the other server until it stops (%s)", error)
        write_status("ready", generation)

    def ready(generation: int) -> None:
        pool.on_ready = lambda later: write_status("ready", later)
        taking.append(asyncio.get_running_loop().create_task(take_over(generation)))

    pool.on_ready = ready
    return taking


async def serve(config: ServerConfig, config_path: str | None = None) -> int:
    """Serve until interrupted (exit 0) or until the script cannot start (exit 3). SIGHUP reloads."""
    _setup_logging()
    heap.fix_threshold()  # before any request: the bodies' memory goes back to the system (heap.py)
    listener, taking_over = bind(config.host, config.port, shared=config.reuse_port)
    metrics = ServerMetrics()
    pool = WorkerPool(config, metrics)
    write_status = _status_writer(config.status_file)
    pool.on_ready = lambda generation: write_status("ready", generation)
    pool.on_failed = lambda generation, report: write_status("failed", generation, report)
    access_log = AccessLog()
    limits = ConnectionLimits(
        fit_file_limit(config.max_connections), config.max_header_bytes, config.max_headers, config.read_timeout_s
    )
    app = ScoringApp(pool, metrics, access_log)
    front = Front(app, limits, config.max_body_bytes, BodyBudget(config.max_buffered_bytes))
    server = HttpServer(front, listener, shared=config.reuse_port)
    taking = _take_over_when_ready(server, pool, config, write_status) if taking_over else []
    _banner(config)
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGHUP, _reload, pool, config_path)
    stopped = asyncio.Event()
    for stop_signal in (signal.SIGINT, signal.SIGTERM):  # requests being answered finish, then exit 0
        loop.add_signal_handler(stop_signal, stopped.set)
    pool.start()
    flusher = asyncio.create_task(_flush_periodically(access_log))
    if not taking_over:
        await server.start()
    await asyncio.wait([asyncio.ensure_future(stopped.wait()), pool.failure], return_when=asyncio.FIRST_COMPLETED)
    exit_code = 0
    if pool.failure.done():
        _report_failure(pool.failure.result())
        write_status("failed", 1, pool.failure.result())
        exit_code = EXIT_INIT_FAILED
    for task in taking:
        task.cancel()
    await server.stop(0.0 if exit_code else config.shutdown_grace_s)
    await pool.stop()
    listener.close()
    flusher.cancel()
    access_log.flush()
    return exit_code


def run(config: ServerConfig, config_path: str | None = None) -> int:
    try:
        import uvloop
    except ImportError:
        return asyncio.run(serve(config, config_path))
    return uvloop.run(serve(config, config_path))

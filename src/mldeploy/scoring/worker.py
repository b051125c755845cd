"""A worker process: loads score.py, runs init() once, then answers requests from the front.

Started by the front as ``python -m mldeploy.scoring.worker FD``; FD is its end of a Unix socket pair.
It exits when the front goes away (the socket closes, or the kernel kills it when its parent dies).
"""

import ctypes
import faulthandler
import importlib
import logging
import os
import signal
import socket
import sys
import traceback
from typing import Any

from . import legacy, protocol, shim
from .debugger import wait_for_debugger
from .failures import describe
from .outputs import Headers, error_reply
from .script import INTERNAL_ERROR_MESSAGE, ScoringScript, ScriptError, app_paths, load_module
from .swagger import build_documents

LOG_FORMAT = "%(asctime)s %(levelname).1s [%(process)d] %(name)s - %(message)s"
PR_SET_PDEATHSIG = 1
STACK_DUMP_SIGNAL = signal.SIGUSR2
PRELOAD_ENV = "MLDEPLOY_PRELOAD"
FRONT_PID_ENV = "MLDEPLOY_FRONT_PID"
DEBUG_ERRORS_ENV = "MLDEPLOY_DEBUG_ERRORS"
MAX_RESPONSE_ENV = "MLDEPLOY_MAX_RESPONSE_BYTES"
OWN_MODULES = {"mldeploy", "azureml", "azureml_inference_server_http", "entry_module", "__main__"}

logger = logging.getLogger("mldeploy.worker")


def _die_with_parent() -> None:
    try:
        ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        return
    if os.getppid() != int(os.environ.get(FRONT_PID_ENV, os.getppid())):
        sys.exit(0)  # the front died before the death signal was armed


def _setup_process() -> None:
    _die_with_parent()
    # The front owns the lifecycle: Ctrl-C or a SIGTERM to the whole process group must not kill a worker
    # in the middle of a request; the worker exits when the front closes its socket.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    faulthandler.register(STACK_DUMP_SIGNAL, all_threads=True)
    for stream in (sys.stdout, sys.stderr):
        stream.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    root = logging.getLogger("mldeploy")
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    root.propagate = False


def _preloadable(app_root: str) -> list[str]:
    """Top-level installed packages this worker imported (not the user's own modules): what a spare preloads."""
    names = set()
    for name, module in list(sys.modules.items()):
        top = name.partition(".")[0]
        location = getattr(module, "__file__", None) or ""
        if top in OWN_MODULES or "site-packages" not in location or location.startswith(app_root):
            continue
        names.add(top)
    return sorted(names)


def _wait_as_spare(channel: socket.socket) -> None:
    """A spare: import what the serving workers use, then wait to be told which script to load.

    Reloads and replacements then skip the slow imports (numpy, scikit-learn...): they only load score.py
    and run init(). Its start is not logged as a worker's boot (a healthy service would look like one whose
    worker restarted, the out-of-memory symptom); taking over is.
    """
    preload = list(filter(None, os.environ.get(PRELOAD_ENV, "").split(",")))
    logger.info("Starting a spare worker, pid %d, warm with: %s", os.getpid(), ", ".join(preload) or "nothing")
    for name in preload:
        try:
            importlib.import_module(name)
        except Exception:
            continue
    reader = channel.makefile("rb", buffering=0)
    header = reader.read(protocol.HEADER_SIZE)
    if len(header) < protocol.HEADER_SIZE:
        sys.exit(0)
    kind, environment = protocol.decode(reader.read(protocol.HEADER.unpack(header)[0]))
    if kind != protocol.SPARE_START:
        sys.exit(0)
    os.environ.clear()
    os.environ.update(environment)
    os.chdir(environment["AML_APP_ROOT"])
    logger.info("Booting worker with pid: %d (the spare, its packages loaded already)", os.getpid())


def _start_script(entry_script: str, app_root: str, debug_errors: bool) -> tuple[Any, ScoringScript | None]:
    """(message for the front, the script when it is ready)."""
    shim.install()
    legacy.install()
    for path in app_paths(app_root, entry_script, os.environ.get("AZUREML_SOURCE_DIRECTORY")):
        if path not in sys.path:
            sys.path.append(path)
    stage = "import"
    try:
        module = load_module(entry_script)
        stage = "check"
        script = ScoringScript(module, debug_errors)
        logger.info("Found user script at %s; run() input style: %s", script.path, script.style.value)
        stage = "init"
        logger.info("Invoking user's init function")
        script.init()
    except (Exception, SystemExit) as error:
        if isinstance(error, ScriptError):
            error.__traceback__ = None
        report = describe(stage, error, entry_script)
        logger.error("%s\n%s", "\n".join(report["summary"]), report["traceback"])
        return (protocol.INIT_FAILED, report), None
    logger.info("Users's init has completed successfully")
    documents, versions = build_documents(app_root, script.run)
    info = {
        "pid": os.getpid(),
        "protocol": protocol.VERSION,
        "swagger": documents,
        "swagger_versions": versions,
        "style": script.style.value,
        "headers": script.headers_read,
        "preload": _preloadable(app_root),
        "legacy": legacy.report(),
    }
    return (protocol.READY, info), script


def _answer(script: ScoringScript, request: tuple[str, str, str, Headers, bytes], max_bytes: int) -> list[bytes]:
    """The encoded reply to one request. Whatever goes wrong on the way (input handling, encoding) fails
    this request with a 500, never the worker: one request must not end a process that serves others."""
    try:
        status, headers, body, exec_ms = script.handle(*request)
    except Exception:
        logger.error("Encountered Exception: %s", traceback.format_exc())
        status, headers, body, exec_ms = error_reply(500, INTERNAL_ERROR_MESSAGE)
    if max_bytes and len(body) > max_bytes:
        message = (f"run() returned an answer of {len(body)} bytes, over the limit of {max_bytes} bytes "
                   "(--max-response-mb): return less per request, or raise the limit.")  # fmt: skip
        logger.error(message)
        status, headers, body, exec_ms = error_reply(500, message, failed=True)
    return protocol.reply_parts(status, headers, body, exec_ms)


def _serve(channel: socket.socket, script: ScoringScript) -> None:
    max_bytes = int(os.environ.get(MAX_RESPONSE_ENV) or 0)
    reader = channel.makefile("rb", buffering=1 << 16)
    header_size = protocol.HEADER_SIZE
    unpack = protocol.HEADER.unpack
    decode = protocol.decode
    while True:
        header = reader.read(header_size)
        if len(header) < header_size:
            return
        (size,) = unpack(header)
        method, path, query, headers, body_size = decode(reader.read(size))
        body = reader.read(body_size)
        if len(body) < body_size:
            return
        for part in _answer(script, (method, path, query, headers, body), max_bytes):
            channel.sendall(part)


def main() -> None:
    fd = int(sys.argv[1])
    _setup_process()
    channel = socket.socket(fileno=fd)
    if "--spare" in sys.argv[2:]:
        _wait_as_spare(channel)
    else:
        logger.info("Booting worker with pid: %d", os.getpid())
    debug_errors = os.environ.get(DEBUG_ERRORS_ENV) == "1"
    entry_script = os.environ["AZUREML_ENTRY_SCRIPT"]
    app_root = os.environ.get("AML_APP_ROOT", os.getcwd())
    wait_for_debugger()
    message, script = _start_script(entry_script, app_root, debug_errors)
    try:
        channel.sendall(protocol.encode(message))
        if script is None:
            sys.exit(3)
        logger.info("Worker with pid %d ready for serving traffic", os.getpid())
        _serve(channel, script)
    except (BrokenPipeError, ConnectionResetError):
        return  # the front is gone (it stopped, or died): nothing to answer


if __name__ == "__main__":
    main()

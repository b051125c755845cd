"""A worker process: loads score.py, runs init() once, then answers requests from the front.

Started by the front as ``python -m mldeploy.scoring.worker FD``; FD is its end of a Unix socket pair.
It exits when the front goes away (the socket closes, or the kernel kills it when its parent dies).
"""

import ctypes
import faulthandler
import logging
import os
import signal
import socket
import sys
from typing import Any

from . import protocol, shim
from .failures import describe
from .script import ScoringScript, ScriptError, app_paths, load_module
from .swagger import build_documents

LOG_FORMAT = "%(asctime)s %(levelname).1s [%(process)d] %(name)s - %(message)s"
PR_SET_PDEATHSIG = 1
STACK_DUMP_SIGNAL = signal.SIGUSR2

logger = logging.getLogger("mldeploy.worker")


def _die_with_parent() -> None:
    try:
        ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        return
    if os.getppid() == 1:
        sys.exit(0)


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


def _start_script(entry_script: str, app_root: str, debug_errors: bool) -> tuple[Any, ScoringScript | None]:
    """(message for the front, the script when it is ready)."""
    shim.install()
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
    info = {"pid": os.getpid(), "swagger": documents, "swagger_versions": versions, "style": script.style.value}
    return (protocol.READY, info), script


def _serve(channel: socket.socket, script: ScoringScript) -> None:
    reader = channel.makefile("rb", buffering=1 << 16)
    header_size = protocol.HEADER_SIZE
    unpack = protocol.HEADER.unpack
    while True:
        header = reader.read(header_size)
        if len(header) < header_size:
            return
        (size,) = unpack(header)
        method, path, query, headers, body = protocol.decode(reader.read(size))
        channel.sendall(protocol.encode(script.handle(method, path, query, headers, body)))


def main() -> None:
    fd = int(sys.argv[1])
    debug_errors = "--debug-errors" in sys.argv[2:]
    _setup_process()
    logger.info("Booting worker with pid: %d", os.getpid())
    channel = socket.socket(fileno=fd)
    entry_script = os.environ["AZUREML_ENTRY_SCRIPT"]
    app_root = os.environ.get("AML_APP_ROOT", os.getcwd())
    message, script = _start_script(entry_script, app_root, debug_errors)
    channel.sendall(protocol.encode(message))
    if script is None:
        sys.exit(3)
    logger.info("Worker with pid %d ready for serving traffic", os.getpid())
    try:
        _serve(channel, script)
    except (BrokenPipeError, ConnectionResetError):
        return


if __name__ == "__main__":
    main()

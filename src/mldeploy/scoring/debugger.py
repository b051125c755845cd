"""Remote debugging: the worker listens with debugpy (the maintained successor of ptvsd) and waits a set time
for VS Code to attach before it runs init(), as the seed's ``ptvsd.wait_for_attach(timeout=30)`` did."""

import logging
import os
import threading

DEBUG_ADDRESS_ENV = "MLDEPLOY_DEBUG_ADDRESS"  # host:port
DEBUG_WAIT_ENV = "MLDEPLOY_DEBUG_WAIT_S"

logger = logging.getLogger("mldeploy.worker")


def wait_for_debugger() -> None:
    """When the server runs with debugging on: listen, then wait for a client (at most the set time)."""
    address = os.environ.get(DEBUG_ADDRESS_ENV)
    if not address:
        return
    try:
        import debugpy
    except ImportError:
        logger.error("Debugging asked for but debugpy is not installed in this environment; add it to the packages.")
        return
    host, _, port = address.rpartition(":")
    wait_s = float(os.environ.get(DEBUG_WAIT_ENV, "30"))
    debugpy.listen((host, int(port)))
    logger.info("Debugger (debugpy) listening on %s; waiting up to %.0f s for VS Code to attach", address, wait_s)
    timer = threading.Timer(wait_s, debugpy.wait_for_client.cancel)
    timer.start()
    debugpy.wait_for_client()
    timer.cancel()
    if debugpy.is_client_connected():
        logger.info("Debugger attached")
    else:
        logger.info("No debugger attached after %.0f s; init() runs without one", wait_s)

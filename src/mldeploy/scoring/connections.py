"""Connection-level limits of the front (how many connections, how long and how large a request head may
be, how many headers it may have) and enough file descriptors for all of them. ``front`` enforces them on
each connection."""

import logging
import resource
from typing import NamedTuple

logger = logging.getLogger("mldeploy.server")

FD_RESERVE = 256  # descriptors kept for workers, logs, the listening socket and the event loop


class ConnectionLimits(NamedTuple):
    max_connections: int
    max_header_bytes: int
    max_headers: int
    read_timeout_s: float


def fit_file_limit(max_connections: int) -> int:
    """Raise the soft limit of open files so that ``max_connections`` sockets fit (up to the hard limit);
    the number of connections that fit, with a warning when that is fewer than asked."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = max_connections + FD_RESERVE
    if hard != resource.RLIM_INFINITY:
        wanted = min(wanted, hard)
    if wanted > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
        soft = wanted
    fitting = max(soft - FD_RESERVE, 1)
    if fitting < max_connections:
        logger.warning(
            "Open files are limited to %d (hard limit %s): at most %d connections instead of %d. Raise the limit "
            "(ulimit -n, or the container's nofile ulimit) or lower --max-connections.",
            soft, hard, fitting, max_connections,
        )  # fmt: skip
        return fitting
    return max_connections

"""Worker recycling and the answer-size cap of a deployed service: the deployment settings that hold them (named
as `mldeploy serve`'s options), what makes them unusable, and the server-config fields they become on every
target (local, Docker, Kubernetes).

An RSS limit only works below the container's memory limit: the front and every worker share that limit, and
the kernel kills a worker for memory (OOM, a 502 for its request) as soon as their sum passes it. A limit at or
above the container's is refused (no worker could ever reach it alive); one that the workers together would
pass before each reaches it is allowed with a warning (workers rarely grow in step, but they may).
"""

import math
from collections.abc import Mapping
from typing import Any

from ..errors import DeploymentError
from ..scoring.config import MIB
from ..wording import phrase

REQUESTS = "max_requests_per_worker"
RSS = "max_worker_rss_mb"
RESPONSE = "max_response_mb"
FRONT_RSS_MIB = 64  # the front's resident memory: 47 MiB measured (docs/reliability.md), with room
WHOLE = {REQUESTS: "a whole number of requests", RSS: "a whole number of MiB", RESPONSE: "a number of MB"}


class LimitError(DeploymentError):
    """A recycling or answer-size setting that cannot work; the message names it and the fix."""


def _named(setting: str) -> str:
    return phrase(api=setting, cli="--" + setting.replace("_", "-"))


def _memory_limit(settings: Mapping[str, Any]) -> tuple[str, float] | None:
    """The setting that limits the container's memory and its value in MiB (Kubernetes: memory_gb_limit;
    Docker: memory_gb); None for a local service, which has no limit."""
    for setting in ("memory_gb_limit", "memory_gb"):
        if settings.get(setting):
            return phrase(api=setting, cli="--memory"), float(settings[setting]) * 1024
    return None


def _check_value(setting: str, value: Any) -> None:
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if not number or value < 0 or (setting != RESPONSE and value != int(value)):
        raise LimitError(f"{_named(setting)} {value!r} cannot be used: give 0 (off) or {WHOLE[setting]} above 0.")


def check_limits(settings: Mapping[str, Any]) -> str | None:
    """LimitError for a value that cannot work; advice (to print) for an RSS limit the workers together may
    pass before the kernel's; None when all is well."""
    for setting in WHOLE:
        if settings.get(setting) is not None:
            _check_value(setting, settings[setting])
    rss = settings.get(RSS) or 0
    memory = _memory_limit(settings)
    if not rss or memory is None:
        return None
    memory_setting, limit = memory
    room = max(1, math.floor(limit - FRONT_RSS_MIB))
    if rss >= limit:
        raise LimitError(
            f"{_named(RSS)} {rss} is at or above the container's memory limit ({limit:g} MiB, {memory_setting}): "
            f"the kernel would kill a worker for memory (its request answered 502) before it ever passed {rss} "
            f"MiB, so none would be recycled. Set {_named(RSS)} below {room} (the limit less about "
            f"{FRONT_RSS_MIB} MiB for the front), or raise {memory_setting}."
        )
    workers = int(settings.get("workers") or 1)
    if FRONT_RSS_MIB + workers * rss <= limit:
        return None
    return (
        f"Warning: {workers} worker(s) at {_named(RSS)} {rss} plus the front (about {FRONT_RSS_MIB} MiB) pass the "
        f"container's memory limit ({limit:g} MiB, {memory_setting}): the kernel may kill a worker (a 502) before "
        f"it is recycled. Below {max(1, room // workers)} MiB each they fit; or raise {memory_setting}."
    )


def scoring_limits(settings: Mapping[str, Any]) -> dict[str, int]:
    """The server-config fields of a deployment's settings (0: off); LimitError for values that cannot work."""
    check_limits(settings)
    return {
        "max_requests_per_worker": int(settings.get(REQUESTS) or 0),
        "max_worker_rss_mb": int(settings.get(RSS) or 0),
        "max_response_bytes": int((settings.get(RESPONSE) or 0) * MIB),
    }

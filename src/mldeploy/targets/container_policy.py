"""How the scoring server's containers run, on Docker and Kubernetes alike: as the image's user, never root,
with no capabilities and no way to gain privileges, and with time to finish the requests in flight when
stopped.

On Docker the service's folder is mounted into the container; it is owner-only (0700, its server.json
0600). When the host user is not root, the container runs as that user, who owns the folder. When it is
root, the container runs as the image's user (uid 10001), and the folder and its config are handed over to
that uid: root on the host still reads and writes them.
"""

import dataclasses
import math
import os
from pathlib import Path
from typing import Any

from ..scoring.config import DEFAULT_SCORING_TIMEOUT_MS, ServerConfig
from .package import SERVER_UID

STOP_MARGIN_S = 5  # past the server's own shutdown grace, before the engine or the kubelet kills it
DOCKER_HARDENING: dict[str, Any] = {"cap_drop": ["ALL"], "security_opt": ["no-new-privileges"]}


def stop_timeout_s(config: ServerConfig) -> int:
    """Seconds from SIGTERM to SIGKILL: the server's shutdown grace (its scoring timeout, and a little) plus a
    margin. A server being debugged (whose scoring timeout is a day, so that a breakpoint is not a stuck run())
    gets the default timeout's."""
    if config.debug_port is not None:
        config = dataclasses.replace(config, scoring_timeout_ms=DEFAULT_SCORING_TIMEOUT_MS)
    return math.ceil(config.shutdown_grace_s) + STOP_MARGIN_S


def hand_over(*paths: Path) -> None:
    """Make the image's user the owner of ``paths`` (as root; a user who is not root keeps them)."""
    if os.geteuid() == 0:
        for path in paths:
            if path.exists():
                os.chown(path, SERVER_UID, SERVER_UID)


def docker_user(folder: Path, *files: Path) -> str:
    """The user (``uid:gid``) to run a container as that mounts ``folder`` and reads ``files`` in it, handed
    over to that user first."""
    hand_over(folder, *files)
    return f"{SERVER_UID}:{SERVER_UID}" if os.geteuid() == 0 else f"{os.getuid()}:{os.getgid()}"


def pod_security(config: ServerConfig) -> dict[str, Any]:
    """The pod spec's settings: the image's user, RuntimeDefault seccomp, the stop grace."""
    return {
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": SERVER_UID,
            "runAsGroup": SERVER_UID,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "terminationGracePeriodSeconds": stop_timeout_s(config),
    }


CONTAINER_SECURITY = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}

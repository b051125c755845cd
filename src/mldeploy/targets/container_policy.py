"""How the scoring server's containers run, on Docker and Kubernetes alike: never as root, with no capabilities
and no way to gain privileges, and with time to finish the requests in flight when stopped.

On Docker each service runs as a user of its own (service_uids: services share the host's network, and only
sockets of one user can share a port), and each container mounts a folder of its own, which only that user
may read: when the host user is root, the folder (0700) and its config (0600) are handed over to the
service's uid and gid (root on the host still reads and writes them). A host user who is not root cannot give
files away: the container then runs as the service's uid in the host user's group, and the folder (0770) and
its config (0640) are shared through that group. Kubernetes pods, each in a network namespace of its own, run
as the image's user (uid 10001).
"""

import dataclasses
import math
import os
from pathlib import Path
from typing import Any

from ..scoring.config import DEFAULT_SCORING_TIMEOUT_MS, ServerConfig
from .package import SERVER_UID, SERVER_USER

STOP_MARGIN_S = 5  # past the server's own shutdown grace, before the engine or the kubelet kills it
DOCKER_HARDENING: dict[str, Any] = {"cap_drop": ["ALL"], "security_opt": ["no-new-privileges"]}
SHARED_FOLDER_MODE = 0o770  # a container's folder when the host user is not root: shared through its group
SHARED_FILE_MODE = 0o640
# A service's uid has no entry in the image's users: no home (Docker gives "/", not writable) and no name, which
# getpass.getuser() (and so some libraries' cache folders) reads from these variables first.
SERVICE_ENVIRONMENT = {"HOME": "/tmp", "USER": SERVER_USER, "LOGNAME": SERVER_USER}


def stop_timeout_s(config: ServerConfig) -> int:
    """Seconds from SIGTERM to SIGKILL: the server's shutdown grace (its queue wait and scoring timeout, and a
    little: ``ServerConfig.shutdown_grace_s``) rounded up, plus a margin (68 s at the defaults). A server being
    debugged (whose scoring timeout is a day, so that a breakpoint is not a stuck run()) gets the default
    timeout's."""
    if config.debug_port is not None:
        config = dataclasses.replace(config, scoring_timeout_ms=DEFAULT_SCORING_TIMEOUT_MS)
    return math.ceil(config.shutdown_grace_s) + STOP_MARGIN_S


def service_user(uid: int | None) -> tuple[int, int]:
    """(uid, gid) of the containers of a service whose record holds ``uid`` (None: recorded before services had
    their own, the image's user): its own gid as root, else the host user's group (``hand_over``)."""
    uid = SERVER_UID if uid is None else uid
    return (uid, uid) if os.geteuid() == 0 else (uid, os.getgid())


def hand_over(user: tuple[int, int], *paths: Path) -> None:
    """Let ``user`` (uid, gid) read and write ``paths``, and no other service: as root, make it their owner
    (modes stay 0700 and 0600); as a user who cannot give files away, through the group (0770 and 0640)."""
    for path in paths:
        if not path.exists():
            continue
        if os.geteuid() == 0:
            os.chown(path, *user)
        else:
            os.chown(path, -1, user[1])
            path.chmod(SHARED_FOLDER_MODE if path.is_dir() else SHARED_FILE_MODE)


def docker_user(user: tuple[int, int], folder: Path, *files: Path) -> str:
    """``--user`` for a container run as ``user`` that mounts ``folder`` and reads ``files`` in it, handed over
    to that user first."""
    hand_over(user, folder, *files)
    return f"{user[0]}:{user[1]}"


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

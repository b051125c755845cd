"""Each Docker service's own user id. Containers share the host's network, and Linux lets a socket join a port
another socket listens on (SO_REUSEPORT) only when both belong to the same user: with a uid of its own, no
service's score.py can join another's port and take its connections, keys included. A service's containers all
run as its uid, so an update's successor still shares the port with the container it replaces.

A uid is drawn at random from a range no distribution, systemd or user-namespace map hands out (systemd's
"unused" range, 0x70000000 up to the ids of mountfsd), so that it is no host user's either, and drawn again while
a container of another service on this engine (of any workspace) runs as it, or another service of this
workspace has it recorded, or the host's user database knows it. It is kept in the service's record and kept
when the container is replaced, unless another service has it since.

A service recorded before services had a uid of their own goes on running as the image's user (10001): its
updates and reloads hand the port over to a successor of that uid. The first time its container is replaced
instead (``service start`` after a stop or a failure, an update without room for both containers, an update of
an unhealthy one), it gets a uid of its own.
"""

import pwd
import secrets
from typing import Any

from ..workspace.services import ServiceRecord, load_all
from .capacity import SERVICE_LABEL
from .service_containers import WORKSPACE_LABEL, user_of

UIDS = range(0x7000_0000, 0x7FFE_0000)


def own_uid(client: Any, record: ServiceRecord) -> int:
    """The uid for a container of ``record`` that replaces all of its others: the recorded one while no other
    service has it, else a new one."""
    taken = _taken(client, record)
    if record.uid is not None and record.uid in UIDS and record.uid not in taken:
        return record.uid
    while True:
        uid = UIDS[secrets.randbelow(len(UIDS))]
        if uid not in taken and not _known_to_host(uid):
            return uid


def _taken(client: Any, record: ServiceRecord) -> set[int]:
    """The uids of the other services: their containers' on this engine, and their records' in this workspace."""
    mine = {SERVICE_LABEL: record.name, WORKSPACE_LABEL: str(record.path)}.items()
    containers = client.containers.list(all=True, filters={"label": SERVICE_LABEL})
    taken = {user_of(container)[0] for container in containers if not mine <= container.labels.items()}
    others = load_all(record.path.parents[1])
    return taken | {other.uid for other in others if other.name != record.name and other.uid is not None}


def _known_to_host(uid: int) -> bool:
    try:
        pwd.getpwuid(uid)
    except KeyError:
        return False
    return True

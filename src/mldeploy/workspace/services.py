"""Service records: ``services/<name>/service.json`` under the workspace, written atomically, and the claim
on a service's name that lets one process at a time change it.

A service outlives the process that deployed it; any process can find it again by name.
"""

import fcntl
import json
import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ServiceNotFound
from ..wording import phrase
from .private import FILE_MODE, private_folder, write_private

if TYPE_CHECKING:
    from ..scoring.config import ServerConfig

NAME = re.compile(r"[a-z][a-z0-9-]{1,30}[a-z0-9]")
CONFIG_NAME = "server.json"  # the scoring server's config, in the service's folder


def check_name(name: str) -> None:
    if not NAME.fullmatch(name):
        raise ValueError(
            f"Service name {name!r} is not valid: use 3 to 32 lowercase letters, digits and dashes, starting "
            "with a letter and not ending with a dash (as Azure ML v1 requires), e.g. 'my-service'."
        )


@dataclass
class ServiceRecord:
    name: str
    target: str
    port: int
    folder: str
    revision: int = 1
    deploy_id: str = ""  # made by each deploy: a service replaced by another deploy has another
    pid: int | None = None
    watcher: int | None = None  # local: the server's parent, which records how it ended
    entry_script: str = ""  # as the user gave it
    source_directory: str | None = None
    models: list[str] = field(default_factory=list)  # "name:version"
    environment: str | None = None  # "name:version"
    python: str | None = None
    deployment_config: dict[str, Any] = field(default_factory=dict)
    keys: list[str] = field(default_factory=list)  # primary, secondary: when auth is enabled
    image: str | None = None  # docker: the deployment image's tag
    uid: int | None = None  # docker: the user its containers run as (None: recorded before each service had one)
    started: float = 0.0  # when the server (container) was last started, as a Unix time
    scoring_url: str | None = None  # kubernetes: the scoring URI through the API server's service proxy

    @property
    def path(self) -> Path:
        return Path(self.folder)

    @property
    def app_root(self) -> Path:
        """This revision's files: the app folder (local) or the image's build context (docker)."""
        return self.path / f"app-{self.revision}"

    @property
    def config_file(self) -> Path:
        return self.path / CONFIG_NAME

    @property
    def status_file(self) -> Path:
        return self.path / "status.json"

    @property
    def log_file(self) -> Path:
        return self.path / "server.log"

    @property
    def exit_file(self) -> Path:
        """How the local server last ended (its watcher writes it): pid, code (negative: the signal), at."""
        return self.path / "exit.json"

    @property
    def scoring_uri(self) -> str:
        return self.scoring_url or f"http://127.0.0.1:{self.port}/score"

    def save(self) -> None:
        write_private(self.path / "service.json", json.dumps(asdict(self), indent=2))

    def write_config(self, config: "ServerConfig") -> None:
        """The server's settings (with the service keys): owner-only, like the record."""
        write_private(self.config_file, config.to_json())

    def status(self) -> dict[str, Any] | None:
        return _read_json(self.status_file)

    def exit_status(self) -> dict[str, Any] | None:
        return _read_json(self.exit_file)


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        return dict(json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):
        return None


def services_root(home: Path) -> Path:
    return home / "services"


def claims_root(home: Path) -> Path:
    """Where the claims on service names live: one lock file per name ever changed."""
    return home / "locks" / "services"


def load(home: Path, name: str) -> ServiceRecord:
    path = services_root(home) / name / "service.json"
    try:
        return ServiceRecord(**json.loads(path.read_text()))
    except (OSError, ValueError):
        known = ", ".join(record.name for record in load_all(home)) or "none"
        deploy = phrase(api=f"Model.deploy(ws, {name!r}, ...)", cli=f"mldeploy deploy {name} ...")
        message = f"No service {name!r} in this workspace (services: {known}); deploy it first ({deploy})."
        raise ServiceNotFound(message) from None


def load_all(home: Path) -> list[ServiceRecord]:
    records = []
    for path in sorted(services_root(home).glob("*/service.json")):
        try:
            records.append(ServiceRecord(**json.loads(path.read_text())))
        except (OSError, ValueError, TypeError):
            continue
    return records


def services_using(home: Path, model_id: str) -> list[str]:
    """The services of this workspace folder that deploy model ``model_id`` ("name:version")."""
    return [record.name for record in load_all(home) if model_id in record.models]


@dataclass(frozen=True)
class Holder:
    """A process that holds, or last held, a service's name, and what it does with it."""

    pid: str
    doing: str


DEPLOYING = "deploying"  # a deploy, from claiming the name until its service is awaited
CHANGING = "changing"


@contextmanager
def claim(home: Path, name: str, waiting: Callable[[str], None], doing: str = CHANGING) -> Iterator[Holder | None]:
    """Hold service ``name``: deploys, updates, reloads, key changes and deletes of one name run one at a time.

    An exclusive ``flock`` on ``locks/services/<name>``, outside the service's folder (which a delete removes).
    The kernel releases it when the holder exits, even when killed with SIGKILL, so a killed process never
    blocks the name. The file is never deleted (a process waiting on the deleted file and one locking its
    successor would both hold the name); it holds the last holder's pid and what it was ``doing``, for
    ``waiting``, which is told once when another process holds the name and this one waits for it. Gives the
    process that held the name last when this one had to wait (None when the name was free at once).
    """
    descriptor = os.open(private_folder(claims_root(home)) / name, os.O_RDWR | os.O_CREAT, FILE_MODE)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            last = None
        except BlockingIOError:
            holder = _holder(descriptor)
            waiting(f"waiting for process {holder.pid}, which is {holder.doing} service {name!r}")
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            last = _holder(descriptor)
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, f"{os.getpid()} {doing}".encode(), 0)
        yield last
    finally:
        os.close(descriptor)


def _holder(descriptor: int) -> Holder:
    pid, _, doing = os.pread(descriptor, 64, 0).decode(errors="replace").strip().partition(" ")
    return Holder(pid or "unknown", doing or CHANGING)

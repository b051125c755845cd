"""A throwaway PostgreSQL server on 127.0.0.1 for the store suite (the machine's own postgresql package)."""

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.servers import free_port

SERVER_USER = "postgres"


class PostgresUnavailable(RuntimeError):
    """Why no server could be started here (the suite is skipped with this reason)."""


def _bin(name: str) -> str:
    found = shutil.which(name) or next(iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))), None)
    if found is None:
        raise PostgresUnavailable(f"{name} not found: install Debian's postgresql package")
    return found


def _as_server_user() -> list[str]:
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam(SERVER_USER)
    except KeyError:
        raise PostgresUnavailable(f"running as root and there is no {SERVER_USER!r} user to run the server") from None
    return ["runuser", "-u", SERVER_USER, "--"]


@contextmanager
def postgres_server() -> Iterator[str]:
    """Start a fresh cluster; yields its SQLAlchemy URL; stops and removes it afterwards."""
    prefix = _as_server_user()
    folder = Path(tempfile.mkdtemp(prefix="mldeploy-pg-"))
    if prefix:
        shutil.chown(folder, SERVER_USER)
    data = folder / "data"
    port = free_port()
    try:
        subprocess.run(
            [*prefix, _bin("initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8"],
            check=True,
            capture_output=True,
        )
        options = f"-p {port} -c listen_addresses=127.0.0.1 -k {folder}"
        started = subprocess.run(
            [*prefix, _bin("pg_ctl"), "-D", str(data), "-o", options, "-l", str(folder / "log"), "-w", "start"],
            capture_output=True,
            text=True,
        )
        if started.returncode != 0:
            raise PostgresUnavailable(f"pg_ctl start failed: {started.stdout}{started.stderr}")
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    except subprocess.CalledProcessError as error:
        raise PostgresUnavailable(f"initdb failed: {error.stderr.decode(errors='replace')}") from None
    finally:
        subprocess.run([*prefix, _bin("pg_ctl"), "-D", str(data), "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)

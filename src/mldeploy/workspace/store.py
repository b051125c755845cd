"""The database behind a workspace: SQLite in WAL mode by default, PostgreSQL with MLDEPLOY_DATABASE_URL."""

import os
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from ..errors import StoreError
from .schema import Base

DATABASE_URL_ENV = "MLDEPLOY_DATABASE_URL"
SQLITE_FILE = "mldeploy.db"
SQLITE_BUSY_TIMEOUT_MS = 30_000


def _sqlite_pragmas(connection, _record) -> None:  # type: ignore[no-untyped-def]
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.close()


def database_url(home: Path) -> str:
    return os.environ.get(DATABASE_URL_ENV) or f"sqlite:///{home / SQLITE_FILE}"


def open_store(home: Path) -> sessionmaker[Session]:
    """Connect, create missing tables, and return a session factory."""
    url = database_url(home)
    engine: Engine = create_engine(url, pool_pre_ping=True)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    try:
        Base.metadata.create_all(engine)
    except OperationalError as error:
        where = DATABASE_URL_ENV if os.environ.get(DATABASE_URL_ENV) else str(home / SQLITE_FILE)
        raise StoreError(
            f"Cannot open the workspace database ({where}): {error.orig}. Check that the database server is "
            f"running and the URL is right, or unset {DATABASE_URL_ENV} to use the local SQLite file."
        ) from None
    return sessionmaker(engine, expire_on_commit=False)

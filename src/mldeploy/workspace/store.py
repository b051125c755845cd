"""The database behind a workspace: SQLite in WAL mode by default, PostgreSQL with MLDEPLOY_DATABASE_URL."""

import os
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, func, inspect, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from ..errors import StoreError
from . import locking
from .schema import Base

DATABASE_URL_ENV = "MLDEPLOY_DATABASE_URL"
SQLITE_FILE = "mldeploy.db"
SCHEMA_LOCK = 0x6D6C6465706C6F79  # PostgreSQL advisory lock taken while creating tables ("mldeploy")


@dataclass(frozen=True)
class Store:
    sessions: sessionmaker[Session]  # reads
    writes: sessionmaker[Session]  # write transactions, run through locking.write


def _sqlite_pragmas(connection, _record) -> None:  # type: ignore[no-untyped-def]
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def database_url(home: Path) -> str:
    return os.environ.get(DATABASE_URL_ENV) or f"sqlite:///{home / SQLITE_FILE}"


def _create_missing_tables(session: Session) -> None:
    """Under the write lock, so processes opening a new workspace at once do not create a table twice."""
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        connection.execute(select(func.pg_advisory_xact_lock(SCHEMA_LOCK)))
    Base.metadata.create_all(connection)


def open_store(home: Path) -> Store:
    """Connect, create missing tables, and return the session factories."""
    url = database_url(home)
    engine: Engine = create_engine(url, pool_pre_ping=True)
    writes = locking.install(engine)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    try:
        if not set(Base.metadata.tables) <= set(inspect(engine).get_table_names()):
            locking.write(writes, _create_missing_tables)
    except OperationalError as error:
        where = DATABASE_URL_ENV if os.environ.get(DATABASE_URL_ENV) else str(home / SQLITE_FILE)
        raise StoreError(
            f"Cannot open the workspace database ({where}): {error.orig}. Check that the database server is "
            f"running and the URL is right, or unset {DATABASE_URL_ENV} to use the local SQLite file."
        ) from None
    return Store(sessionmaker(engine, expire_on_commit=False), writes)

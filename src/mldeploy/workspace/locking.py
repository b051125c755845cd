"""How a write transaction takes the workspace's write lock, and how long it waits for it.

SQLite: a write transaction starts with ``BEGIN IMMEDIATE``, so it holds the database's write lock before it
reads anything (SQLite ignores ``FOR UPDATE``): two registrations never both read the same last version.
Reads stay deferred and never wait. PostgreSQL: registrations lock their name's counter row
(``SELECT ... FOR UPDATE``); ``lock_timeout`` bounds the wait. Either way a writer waits at most
$MLDEPLOY_LOCK_TIMEOUT_S seconds (30 by default), then gets WorkspaceBusy saying so. A transaction that loses
a race for a unique value (the first registration of a new name) is retried.
"""

import os
import random
import time
from collections.abc import Callable
from functools import partial
from typing import TypeVar

from sqlalchemy import Connection, Engine, event
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from ..errors import StoreError, WorkspaceBusy

LOCK_TIMEOUT_ENV = "MLDEPLOY_LOCK_TIMEOUT_S"
DEFAULT_LOCK_TIMEOUT_S = 30.0
WRITER = "mldeploy_writer"  # execution option of the connections that write
RACE_ATTEMPTS = 5  # a lost race is retried; the row it raced for is there (and locked) on the next attempt
DEADLINE_MARGIN = 0.1  # a wait that ends this close to the deadline is not started again
MAX_PAUSE_S = 0.5  # between two attempts
SQLITE_BUSY = ("SQLITE_BUSY", "SQLITE_LOCKED")  # error names start with these (SQLITE_BUSY_SNAPSHOT, ...)
POSTGRES_LOCK_NOT_AVAILABLE = "55P03"
POSTGRES_RETRYABLE = ("40001", "40P01")  # serialization failure, deadlock detected

T = TypeVar("T")


def lock_timeout_s() -> float:
    value = os.environ.get(LOCK_TIMEOUT_ENV, "")
    if not value:
        return DEFAULT_LOCK_TIMEOUT_S
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not 0 < seconds < float("inf"):
        raise StoreError(
            f"{LOCK_TIMEOUT_ENV}={value!r} is not a number of seconds; set it to how long a command may wait for "
            f"another one's write to the workspace, e.g. {LOCK_TIMEOUT_ENV}=30."
        )
    return seconds


def _sqlite_connect(timeout_ms: int, dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    """Transactions are begun by ``_sqlite_begin``, not by the sqlite3 module; waits for a lock are bounded."""
    dbapi_connection.isolation_level = None
    dbapi_connection.execute(f"PRAGMA busy_timeout={timeout_ms}")


def _sqlite_begin(connection: Connection) -> None:
    writer = connection.get_execution_options().get(WRITER, False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if writer else "BEGIN")


def _postgres_begin(timeout_ms: int, connection: Connection) -> None:
    if connection.get_execution_options().get(WRITER, False):
        connection.exec_driver_sql(f"SET LOCAL lock_timeout = {timeout_ms}")


def install(engine: Engine) -> sessionmaker[Session]:
    """Set ``engine``'s transactions up as above (before its first connection); the sessions that write."""
    timeout_ms = int(lock_timeout_s() * 1000)
    if engine.dialect.name == "sqlite":
        # first: the other pragmas may wait for a lock
        event.listen(engine, "connect", partial(_sqlite_connect, timeout_ms), insert=True)
        event.listen(engine, "begin", _sqlite_begin)
    elif engine.dialect.name == "postgresql":
        event.listen(engine, "begin", partial(_postgres_begin, timeout_ms))
    return sessionmaker(engine.execution_options(**{WRITER: True}), expire_on_commit=False)


def _is_busy(error: OperationalError) -> bool:
    name = getattr(error.orig, "sqlite_errorname", "")
    return name.startswith(SQLITE_BUSY) or getattr(error.orig, "sqlstate", None) == POSTGRES_LOCK_NOT_AVAILABLE


def _is_retryable(error: OperationalError) -> bool:
    return getattr(error.orig, "sqlstate", None) in POSTGRES_RETRYABLE


def _busy(timeout_s: float) -> WorkspaceBusy:
    return WorkspaceBusy(
        f"The workspace database is locked by another process that has been writing to it for more than "
        f"{timeout_s:g} s; let that command finish (or stop it) and run this one again, or wait longer by setting "
        f"{LOCK_TIMEOUT_ENV} (seconds)."
    )


def _lost_races(error: Exception) -> StoreError:
    return StoreError(
        f"The write to the workspace database conflicted with other processes' writes {RACE_ATTEMPTS} times "
        f"({getattr(error, 'orig', error)}); run the command again."
    )


def write(writes: sessionmaker[Session], work: Callable[[Session], T]) -> T:
    """``work`` in one write transaction, committed; waits for the write lock at most the lock timeout."""
    timeout_s = lock_timeout_s()
    deadline = time.monotonic() + timeout_s
    tries = races = 0
    while True:
        tries += 1
        try:
            with writes.begin() as session:
                return work(session)
        except IntegrityError as error:
            races += 1
            if races == RACE_ATTEMPTS:
                raise _lost_races(error) from None
        except OperationalError as error:
            if _is_busy(error):
                if time.monotonic() >= deadline - timeout_s * DEADLINE_MARGIN:
                    raise _busy(timeout_s) from None
            elif _is_retryable(error):
                races += 1
                if races == RACE_ATTEMPTS:
                    raise _lost_races(error) from None
            else:
                raise
        time.sleep(random.uniform(0, min(MAX_PAUSE_S, 0.02 * tries)))  # collided writers do not collide in step

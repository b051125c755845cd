"""Version numbers per name, handed out one registration after the other."""

from typing import TypeVar

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .schema import NameCounter, Versioned

Counter = TypeVar("Counter", bound=NameCounter)


def locked_counter(session: Session, counters: type[Counter], rows: type[Versioned], name: str) -> Counter:
    """``name``'s counter, locked until ``session``'s transaction ends; a new name's starts at the highest
    version ``rows`` hold. Two first registrations of a name both insert it: the second one's transaction
    fails on the primary key, and locking.write runs it again, when the counter is there to lock."""
    counter = session.get(counters, name, with_for_update=True)
    if counter is None:
        highest = session.scalar(select(func.max(rows.version)).where(rows.name == name)) or 0
        counter = counters(name=name, last_version=highest)
        session.add(counter)
        session.flush()
    return counter

"""The live log: the service's log read again every second through its target, and only the lines that are new
sent to the page (as server-sent events). A log that starts anew (a container replaced) is sent whole."""

import json
from collections.abc import AsyncIterator, Awaitable, Callable

import anyio
import anyio.to_thread

from ..api.webservice import Webservice, WebserviceException
from ..api.workspace import Workspace
from ..errors import ServiceNotFound
from .services import record_of

TAIL_LINES = 300
POLL_S = 1.0


def new_lines(seen: list[str], tail: list[str]) -> tuple[list[str], bool]:
    """The lines of ``tail`` that follow what was ``seen``, and whether the log started anew (no overlap)."""
    if not seen:
        return tail, False
    for overlap in range(min(len(seen), len(tail)), 0, -1):
        if seen[-overlap:] == tail[:overlap]:
            return tail[overlap:], False
    return tail, True


def event(kind: str, payload: dict[str, object]) -> str:
    return f"event: {kind}\ndata: {json.dumps(payload)}\n\n"


def _read(workspace: Workspace, name: str) -> list[str]:
    record = record_of(workspace, name)
    return Webservice.of(workspace, record).get_logs(num_lines=TAIL_LINES).splitlines()


async def follow(workspace: Workspace, name: str, disconnected: Callable[[], Awaitable[bool]]) -> AsyncIterator[str]:
    """Events for the page: ``lines`` (new lines, ``restarted`` when the log began anew), ``problem`` (the log
    could not be read this time: it is tried again) and ``gone`` (the service was deleted: the stream ends)."""
    seen: list[str] = []
    problem = ""  # sent once, until the log can be read again
    while not await disconnected():
        try:
            tail = await anyio.to_thread.run_sync(_read, workspace, name)
        except ServiceNotFound as error:
            yield event("gone", {"message": str(error)})
            return
        except WebserviceException as error:
            if str(error) != problem:
                problem = str(error)
                yield event("problem", {"message": f"The log could not be read (tried again every second): {error}"})
        else:
            problem = ""
            lines, restarted = new_lines(seen, tail)
            if lines:
                yield event("lines", {"lines": lines, "restarted": restarted})
            seen = tail
        await anyio.sleep(POLL_S)

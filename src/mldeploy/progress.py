"""Progress of long operations (environment builds, image builds, waiting for a service to become healthy).

In a terminal: a spinner showing the whole current step and the seconds since the operation began. Anywhere
else (a CI log, a pipe): one line per step with those seconds, so a log is never silent for half a minute.
"""

import re
import time

from rich.console import Console, ConsoleOptions, RenderResult
from rich.status import Status
from rich.text import Text

_SECONDS = re.compile(r"\d+(?:\.\d+)? s\b")  # a step that counts its own seconds is the same step all along


class _Step:
    """The current step, rendered with the time elapsed at each refresh."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.started = time.monotonic()

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield Text(self.text if _SECONDS.search(self.text) else f"{self.text} ({self.elapsed():.0f} s)")


class Steps:
    """Reports one operation's steps on ``console`` (see the module's doc): ``with Steps(console, first_step) as
    steps: ... steps.update(next_step)``."""

    def __init__(self, console: Console, text: str) -> None:
        self._console = console
        self._step = _Step(text)
        self._live = console.is_terminal and not console.is_dumb_terminal
        self._shown = ""
        self._status = Status(self._step, console=console) if self._live else None

    def update(self, text: str) -> None:
        self._step.text = text
        if not self._live and _SECONDS.sub("", text) != _SECONDS.sub("", self._shown):
            self._shown = text
            self._console.print(f"[{self._step.elapsed():5.1f} s] {text}", highlight=False, markup=False)

    def __enter__(self) -> "Steps":
        if self._status is not None:
            self._status.start()
        else:
            self.update(self._step.text)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._status is not None:
            self._status.stop()

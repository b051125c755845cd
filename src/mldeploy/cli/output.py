"""How commands print: results on stdout (a table for people, ``--output plain`` or ``json`` for scripts),
prose, progress and errors on stderr. Nothing is wrapped or cut when the output is not a terminal."""

import json
import sys
from enum import StrEnum
from typing import IO, Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.table import Table

UNLIMITED = 100_000  # the width of a pipe or a file: no line is ever broken or cut to fit it

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_NOT_FOUND = 3


def width(stream: IO[str]) -> int | None:
    """The width to lay text out in: the terminal's, or unlimited for a pipe or a file."""
    return None if stream.isatty() else UNLIMITED


out = Console(soft_wrap=True, width=width(sys.stdout))
err = Console(stderr=True, soft_wrap=True, width=width(sys.stderr))


class Format(StrEnum):
    table = "table"
    plain = "plain"
    json = "json"


OutputOption = Annotated[
    Format, typer.Option("--output", "-o", help="table, plain (tab-separated, one line per row) or json.")
]


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    err.print(f"[red]error:[/red] {message}", highlight=False)
    raise typer.Exit(code)


def say(message: str) -> None:
    """Prose for people (what happened, what to do next): on stderr, so stdout holds only results."""
    err.print(message, highlight=False, markup=False)


def show(rows: list[dict[str, Any]], columns: list[str], output: Format, title: str | None = None) -> None:
    if output is Format.json:
        typer.echo(json.dumps(rows, indent=2, default=str))
    elif output is Format.plain:
        for row in [dict(zip(columns, columns, strict=True)), *rows]:
            typer.echo("\t".join(_cell(row.get(column)) for column in columns))
    else:
        table = Table(title=title)
        for column in columns:
            table.add_column(column, overflow="fold")
        for row in rows:
            table.add_row(*(_cell(row.get(column)) for column in columns))
        out.print(table)


def _cell(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{key}={item}" for key, item in value.items())
    if isinstance(value, list):
        return ", ".join(map(str, value))
    return "" if value is None else str(value).replace("\t", " ").replace("\n", " ")

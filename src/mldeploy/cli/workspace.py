"""``mldeploy workspace``: housekeeping of the workspace folder."""

from dataclasses import asdict
from typing import Annotated

import typer

from ..errors import DockerUnavailable, StoreError
from ..workspace.removal import DEFAULT_MIN_AGE_S, Removal
from .output import EXIT_FAILED, Format, OutputOption, fail, say, show
from .state import workspace

app = typer.Typer(help="Housekeeping of the workspace folder.", no_args_is_help=True)
COLUMNS = ["kind", "what", "size"]
UNITS = ("B", "KB", "MB", "GB", "TB")


def _bytes(size: float) -> str:
    for unit in UNITS:
        if size < 1000 or unit == UNITS[-1]:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    raise AssertionError("unreachable")


def _images(ctx: typer.Context, dry_run: bool) -> list[Removal]:
    from ..targets.docker_engine import connect
    from ..targets.image_prune import prune_images

    try:
        client = connect()
    except DockerUnavailable as error:
        say(f"images skipped: {error}")
        return []
    return list(prune_images(client, workspace(ctx).path, dry_run, say))


@app.command()
def prune(
    ctx: typer.Context,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List what would be removed; remove nothing.")] = False,
    min_age: Annotated[
        float,
        typer.Option(
            "--min-age", min=0, help="Seconds: files changed more recently are kept (a live registration or build)."
        ),
    ] = DEFAULT_MIN_AGE_S,
    output: OutputOption = Format.table,
) -> None:
    """Remove blobs no model uses, environments nothing uses, staging leftovers and deleted services' images."""
    from ..workspace.prune import Pruner  # the registry's database layer: loaded for this command only

    store = workspace(ctx)._store
    try:
        removed = Pruner(store, dry_run, min_age).run()
    except StoreError as error:
        fail(str(error), EXIT_FAILED)
    removed += _images(ctx, dry_run)
    rows = [asdict(removal) for removal in removed]
    if output is not Format.json:
        rows = [{**row, "size": _bytes(row["size"])} for row in rows]
    show(rows, COLUMNS, output)
    total = _bytes(sum(removal.size for removal in removed))
    verb = "would free" if dry_run else "freed"
    say(f"{len(removed)} items; {verb} {total}" + (" (dry run: nothing was removed)" if dry_run else ""))

"""``mldeploy model``: register, list, show, download and delete models."""

from pathlib import Path
from typing import Annotated, Any

import typer

from ..errors import ModelError
from .output import EXIT_NOT_FOUND, Format, OutputOption, fail, out, show
from .registry_writes import registry_write
from .state import workspace

app = typer.Typer(help="Register and manage models.", no_args_is_help=True)

COLUMNS = ["name", "version", "tags", "description", "files"]


def _pairs(values: list[str] | None, what: str) -> dict[str, str]:
    pairs = {}
    for value in values or []:
        key, sep, item = value.partition("=")
        if not sep or not key:
            fail(f"{what} {value!r} is not KEY=VALUE; write it as --{what} key=value.")
        pairs[key] = item
    return pairs


def _reference(reference: str) -> tuple[str, int | None]:
    name, _, version = reference.partition(":")
    if version and not version.isdigit():
        fail(f"{reference!r}: the version after ':' must be a number, as in {name}:3.")
    return name, int(version) if version else None


def registered(ctx: typer.Context, references: list[str]) -> list[Any]:
    """The registered models named NAME or NAME:VERSION (latest); one that is not registered exits 3."""
    from ..api.model import Model

    found = []
    for reference in references:
        name, version = _reference(reference)
        try:
            found.append(Model(workspace(ctx), name, version=version))
        except ModelError as error:
            fail(str(error), EXIT_NOT_FOUND)
    return found


def _model(ctx: typer.Context, reference: str):  # type: ignore[no-untyped-def]
    return registered(ctx, [reference])[0]


@app.command()
def register(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="A model file or folder.")],
    name: Annotated[str, typer.Option("--name", "-n", help="The model's name.")],
    tag: Annotated[list[str] | None, typer.Option(help="key=value (repeatable).")] = None,
    prop: Annotated[list[str] | None, typer.Option("--property", help="key=value (repeatable).")] = None,
    description: Annotated[str | None, typer.Option(help="Free text.")] = None,
    output: OutputOption = Format.table,
) -> None:
    """Register PATH as the next version of model NAME."""
    from ..api.model import Model

    with registry_write():
        model = Model.register(workspace(ctx), path, name, _pairs(tag, "tag"), _pairs(prop, "property"), description)
    show([model.serialize()], COLUMNS, output, title="registered")


@app.command(name="list")
def list_models(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Option(help="Only this model's versions.")] = None,
    tag: Annotated[list[str] | None, typer.Option(help="key or key=value (repeatable).")] = None,
    latest: Annotated[bool, typer.Option("--latest", help="Only the latest version of each model.")] = False,
    output: OutputOption = Format.table,
) -> None:
    """List registered models."""
    from ..api.model import Model

    filters = [value.split("=", 1) if "=" in value else value for value in tag or []]
    rows = [model.serialize() for model in Model.list(workspace(ctx), name, filters, latest)]
    show(rows, COLUMNS, output)


@app.command(name="show")
def show_model(
    ctx: typer.Context,
    reference: Annotated[str, typer.Argument(help="NAME or NAME:VERSION (default: latest).")],
    output: OutputOption = Format.table,
) -> None:
    """Show one model version."""
    show([_model(ctx, reference).serialize()], [*COLUMNS, "createdTime", "properties"], output)


@app.command()
def download(
    ctx: typer.Context,
    reference: Annotated[str, typer.Argument(help="NAME or NAME:VERSION.")],
    target_dir: Annotated[Path, typer.Argument(help="Folder to copy the model's files into.")] = Path("."),
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace files that exist.")] = False,
) -> None:
    """Copy a model's files into TARGET_DIR."""
    try:
        out.print(_model(ctx, reference).download(target_dir, exist_ok=overwrite))
    except ModelError as error:
        fail(str(error))


@app.command()
def delete(
    ctx: typer.Context,
    reference: Annotated[str, typer.Argument(metavar="NAME:VERSION", help="The version is required.")],
    force: Annotated[
        bool,
        typer.Option("--force", help="Delete it even while services deploy it (they keep serving their own copy)."),
    ] = False,
) -> None:
    """Delete one model version; refused while services deploy it, unless --force."""
    if ":" not in reference:
        fail(f"Name the version to delete, as in {reference}:1 (`mldeploy model list --name {reference}`).")
    model = _model(ctx, reference)
    with registry_write():
        model.delete(force=force)
    out.print(f"deleted {model.id}")

"""``mldeploy env``: parse, register and build environments."""

from pathlib import Path
from typing import Annotated

import typer

from ..errors import BuildError, EnvironmentNotFound, InterpreterError, SpecError
from ..workspace.names import check_registry_name
from .output import EXIT_NOT_FOUND, Format, OutputOption, fail, out, show
from .registry_writes import registry_write
from .state import workspace

app = typer.Typer(help="Build and list environments (conda yaml or pip requirements).", no_args_is_help=True)
COLUMNS = ["name", "version", "python", "requirements"]


def _row(environment) -> dict:  # type: ignore[no-untyped-def,type-arg]
    return {
        "name": environment.name,
        "version": environment.version,
        "python": environment.python_version or "(this interpreter)",
        "requirements": environment.requirements,
        "notices": environment.notices,
    }


def load(name: str, conda_file: Path | None, pip_requirements: Path | None):  # type: ignore[no-untyped-def]
    """The Environment described by one of the two files (exactly one must be given)."""
    from ..api.environment import Environment

    if (conda_file is None) == (pip_requirements is None):
        fail("Give exactly one of --conda-file FILE or --pip-requirements FILE.")
    try:
        if conda_file is not None:
            return Environment.from_conda_specification(name, conda_file)
        return Environment.from_pip_requirements(name, pip_requirements)  # type: ignore[arg-type]
    except SpecError as error:
        fail(str(error))


def build_with_progress(environment, ctx: typer.Context) -> Path:  # type: ignore[no-untyped-def]
    for notice in environment.notices:
        out.print(f"[yellow]notice:[/yellow] {notice}", highlight=False)
    try:
        with out.status(f"building environment {environment.name}") as status:
            return environment.build_local(workspace(ctx), progress=lambda step: status.update(step))
    except (BuildError, InterpreterError) as error:
        fail(str(error))


@app.command()
def build(
    ctx: typer.Context,
    name: Annotated[str, typer.Option("--name", "-n", help="The environment's name.")],
    conda_file: Annotated[Path | None, typer.Option(help="A conda specification (yaml).")] = None,
    pip_requirements: Annotated[Path | None, typer.Option(help="A pip requirements file.")] = None,
) -> None:
    """Register an environment and build it (reused when an identical one was built before)."""
    with registry_write():
        check_registry_name("environment", name)  # before the build, which takes a while
    environment = load(name, conda_file, pip_requirements)
    path = build_with_progress(environment, ctx)
    with registry_write():
        environment.register(workspace(ctx))
    out.print(f"environment {environment.name}:{environment.version} ready at {path}", highlight=False)


@app.command(name="list")
def list_environments(ctx: typer.Context, output: OutputOption = Format.table) -> None:
    """List registered environments (latest versions)."""
    from ..api.environment import Environment

    show([_row(env) for env in Environment.list(workspace(ctx)).values()], COLUMNS, output)


@app.command(name="show")
def show_environment(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The environment's name.")],
    output: OutputOption = Format.table,
) -> None:
    """Show an environment's normalized spec."""
    from ..api.environment import Environment

    try:
        environment = Environment.get(workspace(ctx), name)
    except EnvironmentNotFound as error:
        fail(str(error), EXIT_NOT_FOUND)
    show([_row(environment)], [*COLUMNS, "notices"], output)

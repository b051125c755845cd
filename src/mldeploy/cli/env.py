"""``mldeploy env``: parse, register and build environments."""

from pathlib import Path
from typing import Annotated

import typer

from ..errors import BuildError, EnvironmentNotFound, InterpreterError, InvalidName, SpecError
from ..progress import Steps
from ..workspace.names import check_registry_name
from .output import EXIT_NOT_FOUND, Format, OutputOption, err, fail, out, say, show
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


def conda_name(conda_file: Path) -> str | None:
    """The environment name a conda specification gives itself (``name:``), when it is a valid one."""
    import yaml

    try:
        document = yaml.safe_load(conda_file.read_text())
        name = document.get("name") if isinstance(document, dict) else None
        check_registry_name("environment", name)
    except (OSError, UnicodeDecodeError, yaml.YAMLError, InvalidName):
        return None  # an unreadable file is reported when it is parsed; an unusable name is not used
    return str(name)


def load(name: str | None, conda_file: Path | None, pip_requirements: Path | None, fallback: str | None = None):  # type: ignore[no-untyped-def]
    """The Environment described by one of the two files (exactly one must be given), named ``name``, else by
    the conda file's own ``name:``, else ``fallback``."""
    from ..api.environment import Environment

    if (conda_file is None) == (pip_requirements is None):
        fail("Give exactly one of --conda-file FILE or --pip-requirements FILE.")
    name = name or (conda_name(conda_file) if conda_file else None) or fallback
    if name is None:
        fail("Name the environment with --name NAME (or in the conda file: 'name: NAME').")
    try:
        if conda_file is not None:
            return Environment.from_conda_specification(name, conda_file)
        return Environment.from_pip_requirements(name, pip_requirements)  # type: ignore[arg-type]
    except SpecError as error:
        fail(str(error))


def build_with_progress(environment, ctx: typer.Context) -> Path:  # type: ignore[no-untyped-def]
    for notice in environment.notices:
        say(f"notice: {notice}")
    try:
        with Steps(err, f"building environment {environment.name}") as steps:
            return environment.build_local(workspace(ctx), progress=steps.update)
    except (BuildError, InterpreterError) as error:
        fail(str(error))


@app.command()
def build(
    ctx: typer.Context,
    name: Annotated[
        str | None, typer.Option("--name", "-n", help="The environment's name (default: the conda file's 'name:').")
    ] = None,
    conda_file: Annotated[Path | None, typer.Option(help="A conda specification (yaml).")] = None,
    pip_requirements: Annotated[Path | None, typer.Option(help="A pip requirements file.")] = None,
) -> None:
    """Register an environment and build it (reused when an identical one was built before)."""
    environment = load(name, conda_file, pip_requirements)
    with registry_write():
        check_registry_name("environment", environment.name)  # before the build, which takes a while
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

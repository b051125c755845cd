"""The ``mldeploy`` command line: one module per noun."""

import sys
from pathlib import Path
from typing import Annotated

import click
import typer
from typer.core import TyperGroup

from ..wording import use_cli_wording
from . import deploy, env, model, package, plan, serve, service, ui, workspace
from .check import check
from .output import width

WORKSPACE = "--workspace"


def hoist_workspace(args: list[str]) -> list[str]:
    """``--workspace DIR`` (or ``--workspace=DIR``) given after the subcommand, moved in front of it."""
    rest, hoisted = [], []
    items = iter(args)
    for arg in items:
        if arg == "--":
            rest += [arg, *items]
        elif arg == WORKSPACE:
            hoisted += [arg, next(items, "")]
        elif arg.startswith(f"{WORKSPACE}="):
            hoisted.append(arg)
        else:
            rest.append(arg)
    return [*hoisted, *rest]


class Root(TyperGroup):
    """The root command: takes ``--workspace`` before or after the subcommand."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, hoist_workspace(args))


HELP_WIDTH = width(sys.stdout)
app = typer.Typer(
    name="mldeploy",
    cls=Root,
    help="Deploy Azure ML v1 style scoring scripts (score.py with init() and run()) as HTTP services.",
    epilog="--workspace DIR may also follow the subcommand, e.g. `mldeploy service list --workspace DIR`.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"terminal_width": HELP_WIDTH, "max_content_width": HELP_WIDTH},
)
app.command(name="serve")(serve.serve)
app.add_typer(model.app, name="model")
app.add_typer(env.app, name="env")
app.add_typer(service.app, name="service")
app.add_typer(workspace.app, name="workspace")
app.command(name="deploy")(deploy.deploy)
app.command(name="package")(package.package)
app.command(name="plan")(plan.plan)
app.command(name="diagnose")(service.diagnose)
app.command(name="check")(check)
app.command(name="ui")(ui.ui)


@app.callback()
def _root(
    workspace: Annotated[
        Path | None,
        typer.Option(help="Workspace folder. Default: $MLDEPLOY_HOME, else ~/.mldeploy.", envvar="MLDEPLOY_HOME"),
    ] = None,
) -> None:
    """mldeploy: register, deploy and diagnose scoring services."""
    use_cli_wording()


def main() -> None:
    app()

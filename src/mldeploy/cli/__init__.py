"""The ``mldeploy`` command line: one module per noun."""

from pathlib import Path
from typing import Annotated

import typer

from ..wording import use_cli_wording
from . import env, model, package, plan, serve, service

app = typer.Typer(
    name="mldeploy",
    help="Deploy Azure ML v1 style scoring scripts (score.py with init() and run()) as HTTP services.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command(name="serve")(serve.serve)
app.add_typer(model.app, name="model")
app.add_typer(env.app, name="env")
app.add_typer(service.app, name="service")
app.command(name="deploy")(service.deploy)
app.command(name="package")(package.package)
app.command(name="plan")(plan.plan)
app.command(name="diagnose")(service.diagnose)


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

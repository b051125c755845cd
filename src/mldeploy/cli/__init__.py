"""The ``mldeploy`` command line: one module per noun."""

import typer

from . import serve

app = typer.Typer(
    name="mldeploy",
    help="Deploy Azure ML v1 style scoring scripts (score.py with init() and run()) as HTTP services.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command(name="serve")(serve.serve)


@app.callback()
def _root() -> None:
    """mldeploy: register, deploy and diagnose scoring services."""


def main() -> None:
    app()

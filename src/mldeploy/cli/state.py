"""What the root command passes to its subcommands: the workspace folder."""

from pathlib import Path

import typer

from ..errors import StoreError
from .output import fail


def workspace(ctx: typer.Context):  # type: ignore[no-untyped-def]
    """The workspace named by --workspace (else $MLDEPLOY_HOME, else ~/.mldeploy), opened once per command."""
    from ..api.workspace import Workspace

    root = ctx.find_root()
    if root.obj is None:
        path: Path | None = root.params.get("workspace")
        try:
            root.obj = Workspace(path)
        except StoreError as error:
            fail(str(error))
    return root.obj

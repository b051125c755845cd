"""``mldeploy package``: a Docker image of models + scoring script + environment, or its build context."""

from pathlib import Path
from typing import Annotated

import typer

from .output import fail, out
from .service import CondaOption, EntryOption, ModelsOption, PipOption, SourceOption, inference_config, models
from .state import workspace


def package(
    ctx: typer.Context,
    model: ModelsOption = None,
    entry_script: EntryOption = None,
    source_dir: SourceOption = None,
    conda_file: CondaOption = None,
    pip_requirements: PipOption = None,
    tag: Annotated[str | None, typer.Option(help="The image's tag (default: mldeploy/package:<hash>).")] = None,
    dockerfile: Annotated[
        Path | None,
        typer.Option(help="Write the Dockerfile and its context into this folder instead of building."),
    ] = None,
) -> None:
    """Build the image (its tag is printed), or write a context that `docker build --network host` takes as is."""
    from ..api.model import Model
    from ..api.webservice import WebserviceException

    if entry_script is None:
        fail("Give the scoring script with --entry-script score.py.")
    if conda_file and pip_requirements:
        fail("Give at most one of --conda-file and --pip-requirements.")
    config = inference_config("package", entry_script, source_dir, conda_file, pip_requirements)
    try:
        built = Model.package(workspace(ctx), models(ctx, model or []), config, dockerfile is not None, tag)
    except WebserviceException as error:
        fail(str(error))
    if dockerfile is not None:
        built.save(dockerfile)
        out.print(f"Dockerfile and context written to {dockerfile}; build with: "
                  f"docker build --network host -t IMAGE {dockerfile}", highlight=False)  # fmt: skip
        return
    typer.echo(built.location)

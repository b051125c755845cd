"""``mldeploy package``: a Docker image of models + scoring script + environment, or its build context."""

from pathlib import Path
from typing import Annotated

import typer

from .deploy import CondaOption, EntryOption, ModelsOption, PipOption, SourceOption, inference_config
from .images import say_base_is_local, say_image_is_local
from .model import registered
from .output import EXIT_FAILED, err, fail, out
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
    no_auth: Annotated[
        bool, typer.Option("--no-auth", help="Serve /score without a key (anyone who reaches the port may score).")
    ] = False,
) -> None:
    """Build the image (its tag is printed), or write a context that `docker build --network host` takes as is.
    The image serves /score with a key, made now, shown once and kept in a file for `docker run --env-file`."""
    from ..api.package import make_package
    from ..api.webservice import WebserviceException
    from ..targets.package import base_of

    rows = [registered._row for registered in registered(ctx, model or [])]
    config = inference_config("package", entry_script, source_dir, conda_file, pip_requirements)
    try:
        built = make_package(workspace(ctx), rows, config, dockerfile is not None, tag, not no_auth)
    except WebserviceException as error:
        fail(str(error), EXIT_FAILED)
    if dockerfile is not None:
        built.save(dockerfile)
        out.print(f"Dockerfile and context written to {dockerfile}; build with: "
                  f"docker build --network host -t IMAGE {dockerfile}", highlight=False)  # fmt: skip
        say_base_is_local(base_of(dockerfile))
    else:
        typer.echo(built.location)
        say_image_is_local(built.location)
    if built.key is None:
        err.print("The image serves /score without a key (--no-auth): anyone who reaches its port may score.")
    else:
        err.print(f"Key (shown once; kept in {built.key_file}, mode 0600): {built.key}\n"
                  "Clients send it as `Authorization: Bearer KEY`.", highlight=False, markup=False)  # fmt: skip
    err.print(f"Run it (listening on 0.0.0.0:5001): {built.run_command}", highlight=False, markup=False)

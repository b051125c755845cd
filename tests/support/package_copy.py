"""A copy of the mldeploy package that a server started with its folder on PYTHONPATH imports instead of the
installed one, so a test can change mldeploy under a running server, or run sources no build was made for."""

import shutil
from pathlib import Path

import mldeploy


def copy_of_mldeploy(folder: Path) -> Path:
    """The copy's package folder (``folder/mldeploy``); put ``folder`` on the server's PYTHONPATH."""
    shutil.copytree(Path(mldeploy.__file__).parent, folder / "mldeploy", ignore=shutil.ignore_patterns("__pycache__"))
    return folder / "mldeploy"

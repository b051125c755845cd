"""Old scripts and old models: name what today's libraries broke (breakages), and, opted in, serve the
unchanged script with shims for what has a faithful modern equivalent (shims)."""

import os
from typing import Any

from . import pickled_versions, shims
from .breakages import Breakage, diagnose, version_advice
from .shims import COMPAT_ENV

__all__ = ["COMPAT_ENV", "Breakage", "diagnose", "install", "report", "version_advice"]


def install() -> None:
    """In a worker, before score.py loads: record scikit-learn's version warnings, and with legacy
    compatibility on ($MLDEPLOY_LEGACY_COMPAT=1) install the shims."""
    pickled_versions.watch()
    if os.environ.get(COMPAT_ENV) == "1":
        shims.install()


def report() -> dict[str, Any]:
    """What a ready worker tells: the shims the script used, and the pins scikit-learn's warnings call for."""
    return {"shims": list(shims.used), "versions": version_advice()}

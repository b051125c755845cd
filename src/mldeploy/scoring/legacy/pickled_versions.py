"""Which scikit-learn version pickled the models a script loads: scikit-learn says so in its
InconsistentVersionWarning, which is recorded here (and still shown as usual) so a report can name the pin."""

import logging
import warnings
from typing import Any

logger = logging.getLogger("mldeploy.legacy")

WARNING_NAME = "InconsistentVersionWarning"

seen: list[dict[str, str]] = []


def pin_advice(found: dict[str, str]) -> str:
    return (
        f"{found['estimator']} was pickled with scikit-learn {found['original']} and this environment has "
        f"{found['current']}: pin scikit-learn=={found['original']} in the environment (the conda file's pip "
        "section or the pip requirements), or save the model again with the scikit-learn installed here."
    )


def _record(message: Warning | str, category: type[Warning]) -> None:
    if category.__name__ != WARNING_NAME or not isinstance(message, Warning):
        return
    found = {
        "estimator": str(getattr(message, "estimator_name", "the model")),
        "original": str(getattr(message, "original_sklearn_version", "?")),
        "current": str(getattr(message, "current_sklearn_version", "?")),
    }
    if found not in seen:
        seen.append(found)
        logger.warning("Model version: %s", pin_advice(found))


def watch() -> None:
    """Record scikit-learn's version warnings from now on (idempotent); they are shown as before."""
    show = warnings.showwarning
    if getattr(show, "records_versions", False):
        return

    def showwarning(message: Warning | str, category: type[Warning], *args: Any, **kwargs: Any) -> None:
        _record(message, category)
        show(message, category, *args, **kwargs)

    showwarning.records_versions = True  # type: ignore[attr-defined]
    warnings.showwarning = showwarning

"""The naming rule of registered models and environments (Azure ML's rule for model names).

Names end up in paths (``azureml-models/<name>/<version>/``), so the rule is checked before anything is
stored: letters, digits, ``-``, ``_`` and ``.``, starting with a letter or digit, at most 255 characters.
"""

import re

from ..errors import InvalidName

MAX_LENGTH = 255
RULE = re.compile(rf"[A-Za-z0-9][A-Za-z0-9._-]{{0,{MAX_LENGTH - 1}}}")
SHOWN = 60  # characters of a refused name quoted in the error


def check_registry_name(kind: str, name: object) -> None:
    """InvalidName, saying what the rule is with an example, unless ``name`` follows it."""
    if isinstance(name, str) and RULE.fullmatch(name):
        return
    shown = (
        repr(name) if not isinstance(name, str) or len(name) <= SHOWN else f"{name[:SHOWN]!r}… ({len(name)} characters)"
    )
    raise InvalidName(
        f"The {kind} name {shown} is not allowed: use 1 to {MAX_LENGTH} letters, digits, '-', '_' and '.', "
        "starting with a letter or digit, e.g. 'churn-model_v1.2'."
    )

"""``azureml.contrib.services.aml_request``: ``@rawhttp`` and ``AMLRequest``.

``@rawhttp`` asks the server to call ``run(request)`` with the HTTP request itself, a Werkzeug request
(the same API as the Flask request of the reference: ``files``, ``stream``, ``args``, ``headers``,
``get_data()``, ``method``...).
"""

import sys
from typing import TypeVar

from werkzeug.wrappers import Request

F = TypeVar("F")

_rawHttpRequested = False


def rawhttp(func: F) -> F:
    """Mark ``run()`` as wanting the raw HTTP request."""
    global _rawHttpRequested
    _rawHttpRequested = True
    return func


def raw_http_requested() -> bool:
    """True when run() was marked ``@rawhttp``, by us or by a real azureml module a script imported anyway."""
    if _rawHttpRequested:
        return True
    return any(
        getattr(module, "_rawHttpRequested", False)
        for name, module in list(sys.modules.items())
        if name.endswith(".aml_request") and module is not None
    )


class AMLRequest(Request):
    """The request type given to a ``@rawhttp`` run()."""

"""Encode what run() returns into an HTTP reply, as the reference does.

A Flask/Werkzeug response (``AMLResponse``) is sent as is; anything else is JSON-encoded once with the
standard ``json`` module (so the bytes match the reference's), ``None`` as ``{}``. NumPy and pandas values,
which the reference cannot encode (it answers 500), are converted to plain lists and numbers.
"""

import json
import logging
import sys
from typing import Any

Headers = list[tuple[str, str]]
Reply = tuple[int, Headers, bytes, float | None]

JSON = "application/json"
FAILED = "x-ms-run-function-failed"

logger = logging.getLogger("mldeploy.script")
# OPTIONS /score, as the reference answers it when run() does not take it (every script but @rawhttp ones)
OPTIONS_REPLY: Reply = (200, [("Content-Type", "text/html; charset=utf-8"), (FAILED, "False")], b"", None)


class UnencodableResult(TypeError):
    """run() returned a value that cannot be turned into JSON."""


def _plain(value: Any) -> Any:
    tolist = getattr(value, "tolist", None)
    if callable(tolist):
        return tolist()
    to_dict = getattr(value, "to_dict", None)
    if callable(to_dict):
        return to_dict(orient="records") if hasattr(value, "columns") else to_dict()
    if isinstance(value, set | frozenset):
        return list(value)
    raise UnencodableResult(
        f"run() returned a value of type {type(value).__module__}.{type(value).__qualname__}, "
        "which cannot be encoded as JSON. Return lists, dicts, strings and numbers (for example "
        "array.tolist())."
    )


def header_lines(headers: Headers) -> str:
    """Headers as the lines of an HTTP answer's head."""
    return "".join([f"{name}: {value}\r\n" for name, value in headers])


ENCODER = json.JSONEncoder(default=_plain)  # what json.dumps(..., default=_plain) builds on every call


def json_reply(status: int, document: Any, failed: bool = False, exec_ms: float | None = None) -> Reply:
    body = ENCODER.encode({} if document is None else document).encode()
    return status, [("Content-Type", JSON), (FAILED, str(failed))], body, exec_ms


def error_reply(status: int, message: str, failed: bool = False, **extra: str) -> Reply:
    return json_reply(status, {"message": message, **extra}, failed)


def _response_class() -> type | None:
    module = sys.modules.get("werkzeug.wrappers.response")
    return getattr(module, "Response", None)


def _response_problem(status: int, headers: Headers) -> str | None:
    """Why an HTTP response cannot carry this status and these headers, or None when it can."""
    if not 100 <= status <= 599:
        return f"its status code {status} is not an HTTP status; use a code from 100 to 599"
    for name, value in headers:
        if not name.isascii() or not name.isprintable() or ":" in name or " " in name:
            return f"the header name {name!r} is not valid; use letters, digits and dashes"
        if not value.replace("\t", " ").isprintable() or any(ord(char) > 255 for char in value):
            return (
                f"the value of header {name!r} holds a line break or a character HTTP headers cannot carry "
                "(only Latin-1); encode it, for example with urllib.parse.quote"
            )
    return None


def encode_result(result: Any, exec_ms: float) -> Reply:
    response_class = _response_class()
    if response_class is not None and isinstance(result, response_class):
        headers = [(name, value) for name, value in result.headers.items() if name.lower() != "content-length"]
        problem = _response_problem(result.status_code, headers)
        if problem is not None:
            logger.error("run() returned a response that cannot be sent: %s", problem)
            return error_reply(500, f"run() returned a response that cannot be sent: {problem}.", failed=True)
        if result.status_code >= 500:
            headers = [(name, value) for name, value in headers if name.lower() != FAILED]
            headers.append((FAILED, "True"))
        return result.status_code, headers, result.get_data(), exec_ms
    return json_reply(200, result, exec_ms=exec_ms)

"""Turn a request into the arguments of ``run()``, exactly as the reference server does."""

import inspect
import json
from typing import Any
from urllib.parse import parse_qsl


class ClientError(Exception):
    """The request itself is wrong: answered with ``status`` and ``{"message": message}``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


TOO_DEEP = "The JSON is nested too deeply to be decoded; send fewer levels of brackets."


class MethodNotHandled(Exception):
    """OPTIONS and other methods that run() does not see (the reference answers them itself)."""


def _json_or_text(value: str) -> Any:
    try:
        return json.loads(value)
    except RecursionError:
        raise ClientError(400, f"A query parameter could not be decoded: {TOO_DEEP}") from None
    except ValueError:
        return value


def query_parameters(query: str) -> dict[str, Any]:
    """``?a=1&b=[1,2]&c=x&c=y`` -> ``{"a": 1, "b": [1, 2], "c": ["x", "y"]}``."""
    grouped: dict[str, list[str]] = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        grouped.setdefault(key, []).append(value)
    return {
        key: _json_or_text(values[0]) if len(values) == 1 else [_json_or_text(v) for v in values]
        for key, values in grouped.items()
    }


def text_argument(method: str, query: str, body: bytes) -> str:
    """The single ``str`` argument of an undecorated run()."""
    if method == "POST":
        try:
            return str(body, "utf-8")
        except UnicodeDecodeError as ex:
            raise ClientError(400, f"Input cannot be decoded as UTF-8: {ex}") from None
    if method == "GET":
        return json.dumps(query_parameters(query))
    raise MethodNotHandled(method)


def is_json_content_type(content_type: str) -> bool:
    mimetype = content_type.split(";", 1)[0].strip().lower()
    return mimetype == "application/json" or (mimetype.startswith("application/") and mimetype.endswith("+json"))


def _decode_json_body(body: bytes) -> Any:
    """The JSON document of the body; every way it can be undecodable (syntax, encoding, nesting depth,
    an integer over Python's digit limit) is the client's mistake: 400 with the reason."""
    if not body:
        raise ClientError(400, "POST body is empty. Expecting a JSON dictionary.")
    try:
        return json.loads(body)
    except RecursionError:
        raise ClientError(400, f"POST body could not be decoded as JSON: {TOO_DEEP}") from None
    except ValueError as ex:  # JSONDecodeError, UnicodeDecodeError, integers over 4300 digits
        raise ClientError(400, f"POST body could not be decoded as JSON: {ex}") from None


def keyword_arguments(
    parameters: list[inspect.Parameter], method: str, query: str, content_type: str, body: bytes
) -> dict[str, Any]:
    """The keyword arguments of a schema-decorated run(): the JSON body's keys matching its parameters."""
    if method == "POST":
        if not is_json_content_type(content_type):
            raise ClientError(415, "Expects Content-Type to be application/json")
        document = _decode_json_body(body)
        if not isinstance(document, dict):
            raise ClientError(400, "POST body should be a JSON dictionary.")
    elif method == "GET":
        document = query_parameters(query)
    else:
        raise MethodNotHandled(method)
    arguments: dict[str, Any] = {}
    for parameter in parameters:
        value = document.get(parameter.name, parameter.default)
        if value is inspect.Parameter.empty:
            raise ClientError(400, f"A value is not provided for the {parameter.name!r} parameter.")
        arguments[parameter.name] = value
    return arguments

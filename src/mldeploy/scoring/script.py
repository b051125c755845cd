"""Load a user's score.py and call its init() and run() as the reference server does."""

import importlib.util
import inspect
import logging
import os
import time
import traceback
import types
from collections.abc import Callable
from enum import Enum
from typing import Any

from . import inputs, protocol
from .inputs import ClientError, MethodNotHandled
from .outputs import OPTIONS_REPLY, Headers, Reply, encode_result, error_reply
from .schema_errors import conversion_error_message
from .shim import aml_request

logger = logging.getLogger("mldeploy.script")

RUN_FAILED_MESSAGE = "An unexpected error occurred in scoring script. Check the logs for more info."
INTERNAL_ERROR_MESSAGE = "An unexpected internal error occurred. Check the logs for more info."


class ScriptError(Exception):
    """score.py cannot be used as it is (no init(), wrong run() signature...). The message says why."""


class InputStyle(Enum):
    TEXT = "text"  # run(raw_data: str)
    SCHEMA = "schema"  # inference-schema decorated: keyword arguments from the JSON body
    RAW = "raw"  # @rawhttp: run(request)


def load_module(entry_script: str) -> types.ModuleType:
    """Import score.py under the reference's module name (``entry_module``)."""
    spec = importlib.util.spec_from_file_location("entry_module", entry_script)
    if spec is None or spec.loader is None:
        raise ScriptError(f"{entry_script} cannot be imported as a Python module; it must be a .py file.")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _is_schema_decorated(run: Callable[..., Any]) -> bool:
    try:
        from inference_schema.schema_util import is_schema_decorated
    except ImportError:
        return False
    return bool(is_schema_decorated(run))


def request_headers(headers: Headers) -> dict[str, str]:
    """Headers as score.py sees them in the reference: ``X-Ms-Foo`` style names, repeated values joined."""
    merged: dict[str, str] = {}
    for name, value in headers:
        key = name.title()
        merged[key] = f"{merged[key]},{value}" if key in merged else value
    return merged


class ScoringScript:
    def __init__(self, module: types.ModuleType, debug_errors: bool = False) -> None:
        for required in ("init", "run"):
            if not callable(getattr(module, required, None)):
                raise ScriptError(
                    f"The scoring script {module.__file__} has no {required}() function. "
                    f"Define `def {required}(...)` at the top level of the script."
                )
        driver = getattr(module, "driver_module", None)
        if isinstance(driver, types.ModuleType) and callable(getattr(driver, "run", None)):
            self.run: Callable[..., Any] = driver.run
        else:
            self.run = module.run
        self.init: Callable[[], Any] = module.init
        self.path = str(module.__file__)
        self.debug_errors = debug_errors
        self.user_code = getattr(inspect.unwrap(self.run), "__code__", None)
        self._analyze()

    def _analyze(self) -> None:
        parameters = list(inspect.signature(self.run).parameters.values())
        allowed = (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        if any(parameter.kind not in allowed for parameter in parameters):
            raise ScriptError(
                "run() cannot accept positional-only arguments, *args, or **kwargs. "
                "Declare it as `def run(data)` (optionally `def run(data, request_headers)`)."
            )
        self.wants_headers = any(parameter.name == "request_headers" for parameter in parameters)
        self.parameters = [parameter for parameter in parameters if parameter.name != "request_headers"]
        if not self.parameters:
            raise ScriptError("run() needs a parameter for the input data, such as `def run(data)`.")
        schema = _is_schema_decorated(self.run)
        if aml_request.raw_http_requested() and schema:
            raise ScriptError("run() cannot be decorated with both @rawhttp and @input_schema; keep one of them.")
        if aml_request.raw_http_requested():
            self.style = InputStyle.RAW
        elif schema:
            self.style = InputStyle.SCHEMA
        else:
            self.style = InputStyle.TEXT
        self.first_parameter = self.parameters[0].name

    @property
    def headers_read(self) -> str:
        """Which request headers run() can see (``protocol``): the front sends only those."""
        if self.style is InputStyle.RAW or self.wants_headers:
            return protocol.HEADERS_ALL
        if self.style is InputStyle.SCHEMA:
            return protocol.HEADERS_CONTENT_TYPE
        return protocol.HEADERS_NONE

    def _arguments(self, method: str, path: str, query: str, headers: Headers, body: bytes) -> dict[str, Any]:
        if self.style is InputStyle.TEXT:
            return {self.first_parameter: inputs.text_argument(method, query, body)}
        if self.style is InputStyle.SCHEMA:
            content_type = next((value for name, value in headers if name == "content-type"), "")
            return inputs.keyword_arguments(self.parameters, method, query, content_type, body)
        from .raw_request import build_request

        return {self.first_parameter: build_request(method, path, query, headers, body)}

    def _failure(self, error: Exception) -> Reply:
        if self.style is InputStyle.SCHEMA and self.user_code is not None:
            message = conversion_error_message(error, self.user_code)
            if message is not None:
                logger.info("Rejected input: %s", message)
                return error_reply(400, message)
        details = traceback.format_exc()
        logger.error("Encountered Exception: %s", details)
        if self.debug_errors:
            return error_reply(500, RUN_FAILED_MESSAGE, failed=True, traceback=details)
        return error_reply(500, RUN_FAILED_MESSAGE, failed=True)

    def handle(self, method: str, path: str, query: str, headers: Headers, body: bytes) -> Reply:
        """Answer one /score request: parse the input, call run(), encode its result."""
        try:
            arguments = self._arguments(method, path, query, headers, body)
        except ClientError as error:
            return error_reply(error.status, error.message)
        except MethodNotHandled:
            return OPTIONS_REPLY if method == "OPTIONS" else error_reply(405, "Method not allowed")
        if self.wants_headers:
            arguments["request_headers"] = request_headers(headers)
        started = time.perf_counter()
        try:
            result = self.run(**arguments)
        except Exception as error:
            return self._failure(error)
        exec_ms = (time.perf_counter() - started) * 1000
        try:
            return encode_result(result, exec_ms)
        except Exception:
            logger.error("Encountered Exception: %s", traceback.format_exc())
            return error_reply(500, INTERNAL_ERROR_MESSAGE)


def app_paths(app_root: str, entry_script: str, source_dir: str | None) -> list[str]:
    """Folders added to sys.path, as the reference adds them (app root, then the source directory)."""
    paths = [app_root]
    if source_dir:
        paths.append(os.path.join(app_root, source_dir))
    paths.append(os.path.dirname(entry_script))
    return paths

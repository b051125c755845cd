import inspect
import subprocess
import sys
from pathlib import Path

import pytest

from mldeploy.scoring.inputs import ClientError, keyword_arguments, query_parameters, text_argument
from mldeploy.scoring.script import request_headers


def test_query_parameters_parse_json_values_and_repeat_as_lists() -> None:
    assert query_parameters("a=1&b=[1,2]&c=x&d=null&e=x&e=y") == {
        "a": 1, "b": [1, 2], "c": "x", "d": None, "e": ["x", "y"],
    }  # fmt: skip


def test_text_argument_rejects_bytes_that_are_not_utf8() -> None:
    with pytest.raises(ClientError) as error:
        text_argument("POST", "", b"\xff")
    assert error.value.status == 400
    assert error.value.message.startswith("Input cannot be decoded as UTF-8")


def test_keyword_arguments_use_defaults_and_ignore_unknown_keys() -> None:
    def run(data, scale=2):  # type: ignore[no-untyped-def]
        return data

    parameters = list(inspect.signature(run).parameters.values())
    body = b'{"data": [1], "unknown": true}'
    assert keyword_arguments(parameters, "POST", "", "application/json; charset=utf-8", body) == {
        "data": [1],
        "scale": 2,
    }


@pytest.mark.parametrize(
    ("content_type", "body", "status"),
    [("text/plain", b"{}", 415), ("application/json", b"", 400), ("application/json", b"[1]", 400)],
)
def test_keyword_arguments_reject_what_the_reference_rejects(content_type: str, body: bytes, status: int) -> None:
    with pytest.raises(ClientError) as error:
        keyword_arguments([], "POST", "", content_type, body)
    assert error.value.status == status


def test_request_headers_are_named_as_werkzeug_names_them() -> None:
    headers = [("x-ms-client-request-id", "a"), ("content-type", "text/plain"), ("x-many", "1"), ("x-many", "2")]
    assert request_headers(headers) == {
        "X-Ms-Client-Request-Id": "a",
        "Content-Type": "text/plain",
        "X-Many": "1,2",
    }


@pytest.mark.parametrize(
    ("script", "read"),
    [("echo.py", "none"), ("schema_numpy.py", "content-type"), ("headers.py", "all"), ("rawhttp_files.py", "all")],
)
def test_a_worker_tells_the_front_which_request_headers_its_run_can_read(script: str, read: str) -> None:
    """The front sends a worker only those (encoding three headers in each request's frame costs more than the
    rest of the frame); a fresh process per script, as the @rawhttp mark is process-wide."""
    code = (
        "import sys; from mldeploy.scoring import shim; shim.install(); "
        "from mldeploy.scoring.script import ScoringScript, load_module; "
        "print(ScoringScript(load_module(sys.argv[1])).headers_read)"
    )
    path = Path(__file__).parents[1] / "fixtures" / "scripts" / script
    result = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == read

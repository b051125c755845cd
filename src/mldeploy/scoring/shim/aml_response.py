"""``azureml.contrib.services.aml_response``: ``AMLResponse``, a Flask-compatible response."""

import json
from typing import Any

from werkzeug.wrappers import Response


class AMLResponse(Response):
    """A response returned as is by run(). Same constructor as the reference's."""

    default_mimetype = "text/html"

    def __init__(
        self,
        message: Any,
        status_code: int,
        response_headers: dict[str, str] | None = None,
        json_str: bool = False,
        run_function_failed: bool = False,
    ) -> None:
        headers = response_headers or {}
        if message is None:
            super().__init__(json.dumps({}), status=status_code, mimetype="application/json")
        elif json_str:
            super().__init__(json.dumps(message), status=status_code, mimetype="application/json")
        else:
            super().__init__(message, status=status_code)
            if "Content-Type" in headers:
                self.headers.remove("Content-Type")
        self.headers["x-ms-run-function-failed"] = str(run_function_failed)
        for header, value in headers.items():
            for part in value.split(","):
                self.headers.add_header(header, part.strip())

"""``azmlinfsrv`` listening on 127.0.0.1 instead of its fixed 0.0.0.0; run with the reference venv's Python.

Same arguments as ``azmlinfsrv``. Only the bind address changes: the server, gunicorn and its settings are untouched.
"""

import importlib
import sys

LOOPBACK = "127.0.0.1"


def main() -> int:
    constants = importlib.import_module("azureml_inference_server_http.constants")
    constants.DEFAULT_HOST = LOOPBACK  # read by ``from .constants import *`` when amlserver is imported below
    amlserver = importlib.import_module("azureml_inference_server_http.amlserver")
    return amlserver.run()


if __name__ == "__main__":
    sys.exit(main())

"""The VS Code ``launch.json`` entry that attaches to a service started with ``debug=True`` (``--debug``)."""

import json
from typing import Any

from rich.console import Console

from ..targets.container import DEBUG_PORT
from ..targets.package import APP_ROOT
from ..workspace.services import ServiceRecord


def launch_configuration(record: ServiceRecord) -> dict[str, Any]:
    """Attach to debugpy on 127.0.0.1:5678; the local project folder maps to the image's /var/azureml-app."""
    return {
        "name": f"mldeploy: attach to {record.name}",
        "type": "debugpy",
        "request": "attach",
        "connect": {"host": "127.0.0.1", "port": DEBUG_PORT},
        "pathMappings": [{"localRoot": "${workspaceFolder}", "remoteRoot": APP_ROOT}],
        "justMyCode": False,
    }


def print_launch_configuration(console: Console, record: ServiceRecord) -> None:
    wait_s = json.loads(record.config_file.read_text()).get("debug_wait_s", 30)
    console.print(
        f"Debugging on: the worker waits {wait_s:.0f} s for a debugger on 127.0.0.1:{DEBUG_PORT} before init(). "
        'Add this to the "configurations" of .vscode/launch.json, set breakpoints in score.py, then press F5:',
        highlight=False,
    )
    console.print_json(json.dumps(launch_configuration(record)))

"""Remote debugging: a container deployed with debug=True waits for a debugger; a real Debug Adapter Protocol
client attaches on 127.0.0.1:5678 and gets an answer to ``initialize``, then lets init() run."""

import json
import socket
import time
from pathlib import Path
from typing import Any

import pytest

from mldeploy import AciWebservice, InferenceConfig, Model, Workspace
from mldeploy.api.debugging import launch_configuration
from mldeploy.targets.container import DEBUG_PORT

pytestmark = pytest.mark.slow


class DapClient:
    """The Debug Adapter Protocol over TCP: Content-Length framed JSON messages."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock, self.buffer, self.seq = sock, b"", 0

    def request(self, command: str, **arguments: Any) -> None:
        self.seq += 1
        body = json.dumps({"seq": self.seq, "type": "request", "command": command, "arguments": arguments}).encode()
        self.sock.sendall(b"Content-Length: %d\r\n\r\n" % len(body) + body)

    def response(self, command: str) -> dict[str, Any]:
        """The next response to ``command`` (events in between are skipped)."""
        while True:
            while b"\r\n\r\n" not in self.buffer:
                self.buffer += self.sock.recv(65536)
            head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
            size = int(head.split(b":")[1])
            while len(self.buffer) < size:
                self.buffer += self.sock.recv(65536)
            message, self.buffer = json.loads(self.buffer[:size]), self.buffer[size:]
            if message["type"] == "response" and message["command"] == command:
                return message  # type: ignore[no-any-return]


def _connect(timeout_s: float) -> socket.socket:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return socket.create_connection(("127.0.0.1", DEBUG_PORT), timeout=10)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_a_debugger_attaches_before_init(docker_client: Any, workspace: Workspace, model: Model, project: Path) -> None:
    (project / "echo.py").write_text("def init():\n    pass\n\n\ndef run(data):\n    return data\n")
    config = AciWebservice.deploy_configuration(cpu_cores=0.5, debug=True)
    service = Model.deploy(workspace, "aci-debug", [model], InferenceConfig("echo.py"), config)
    with _connect(timeout_s=120) as sock:
        client = DapClient(sock)
        client.request("initialize", clientID="mldeploy-test", adapterID="debugpy", pathFormat="path")
        answer = client.response("initialize")
        assert answer["success"] and answer["body"]["supportsConfigurationDoneRequest"]
        client.request("attach", justMyCode=False)
        client.request("configurationDone")
        assert client.response("configurationDone")["success"]
        service.wait_for_deployment(timeout_sec=60)
        assert "Debugger attached" in service.get_logs()
        assert service.run('"ping"') == '"ping"'
        client.request("disconnect")
    mapping = launch_configuration(service._record)["pathMappings"][0]
    assert mapping == {"localRoot": "${workspaceFolder}", "remoteRoot": "/var/azureml-app"}

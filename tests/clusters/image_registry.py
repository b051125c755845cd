"""A real image registry for the tests: Debian's ``docker-registry`` (the CNCF distribution registry) serving on
127.0.0.1 from a temporary folder, without authentication; the Docker engine treats 127.0.0.0/8 registries as
plain-HTTP ones, so pushes and pulls need no certificate."""

import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml

from tests.support.servers import free_port

START_TIMEOUT_S = 30


@contextmanager
def running_registry(folder: Path) -> Iterator[str]:
    """``host:port`` of a registry running until the block ends (the test is skipped where none is installed)."""
    binary = shutil.which("docker-registry")
    if binary is None:
        pytest.skip("Debian's docker-registry is not installed (scripts/test.sh installs it as root)")
    address = f"127.0.0.1:{free_port()}"
    config = folder / "registry.yml"
    config.write_text(yaml.safe_dump({
        "version": 0.1, "log": {"level": "warn"},
        "storage": {"filesystem": {"rootdirectory": str(folder / "storage")}, "delete": {"enabled": True}},
        "http": {"addr": address},
    }))  # fmt: skip
    with open(folder / "registry.log", "wb") as log:
        process = subprocess.Popen([binary, "serve", str(config)], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                with urllib.request.urlopen(f"http://{address}/v2/", timeout=1):
                    break
            except OSError:
                assert process.poll() is None, (folder / "registry.log").read_text()
                assert time.monotonic() < deadline, "the registry did not answer"
                time.sleep(0.1)
        yield address
    finally:
        process.terminate()
        process.wait(timeout=10)

"""Docker target containers never run the scoring server as root: as the service's own uid, in its own group
when the host user is root (the container's folder is handed over to it), in the host user's group otherwise (the
folder is shared through it); with no capabilities, no way to gain privileges, and a stop timeout longer than the
server's shutdown grace. The server still reads its config (also after the control plane rewrites it for new
keys) and writes its status."""

import json
import os
import shutil
import stat
import subprocess
import sysconfig
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import mldeploy
from mldeploy import AciWebservice, InferenceConfig, Model, Workspace
from mldeploy.scoring.config import ServerConfig
from mldeploy.targets import service_containers
from mldeploy.targets.container import container_name
from mldeploy.targets.service_uids import UIDS
from tests.containers.conftest import docker_client  # noqa: F401 - the real engine (or a skip), shared

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root: the root host's path, and switching to another user"),
]


@pytest.fixture
def engine(request: pytest.FixtureRequest) -> Any:
    return request.getfixturevalue("docker_client")


ECHO = "def init():\n    pass\n\n\ndef run(data):\n    return data\n"
HOST_USER = 4242
DOCKER_SOCKET = Path("/var/run/docker.sock")
SYSTEM_PYTHON = Path("/usr/bin/python3")


def container_uids(client: Any, name: str) -> set[int]:
    """The real uid of every process of container ``name``, read from the host's /proc."""
    top = client.api.top(name)
    pid = top["Titles"].index("PID")
    uids = set()
    for process in top["Processes"]:
        status = Path(f"/proc/{process[pid]}/status").read_text().splitlines()
        uids.add(int(next(line for line in status if line.startswith("Uid:")).split()[1]))
    return uids


def test_as_root_the_server_runs_as_the_service_own_user_and_still_reloads_new_keys(
    engine: Any, workspace: Workspace, model: Model, project: Path
) -> None:
    (project / "echo.py").write_text(ECHO)
    config = AciWebservice.deploy_configuration(cpu_cores=0.5, auth_enabled=True)
    service = Model.deploy(workspace, "non-root", [model], InferenceConfig("echo.py"), config)
    service.wait_for_deployment(timeout_sec=300)
    name = container_name(service._record)
    uid = service._record.uid
    assert uid in UIDS and container_uids(engine, name) == {uid}  # the front and its worker
    attributes = engine.api.inspect_container(name)
    assert attributes["Config"]["User"] == f"{uid}:{uid}"
    assert attributes["HostConfig"]["CapDrop"] == ["ALL"]
    assert attributes["HostConfig"]["SecurityOpt"] == ["no-new-privileges"]
    grace = ServerConfig.from_file(str(service._record.config_file)).shutdown_grace_s
    assert attributes["Config"]["StopTimeout"] > grace
    own = service_containers.folder(service._record, engine.containers.get(name))
    assert own is not None
    for path, mode in ((own, 0o700), (own / "server.json", 0o600)):
        assert (path.stat().st_uid, path.stat().st_gid, stat.S_IMODE(path.stat().st_mode)) == (uid, uid, mode)
    for path, mode in ((service._record.path, 0o700), (service._record.config_file, 0o600)):
        assert stat.S_IMODE(path.stat().st_mode) == mode

    old_key, _ = service.get_keys()
    service.regen_key("Primary")  # the control plane rewrites server.json (root's, 0600); the server reads it
    new_key, _ = service.get_keys()
    for key, status in ((old_key, 401), (new_key, 200)):
        answer = httpx.post(service.scoring_uri, content='"hi"', headers={"Authorization": f"Bearer {key}"})
        assert answer.status_code == status


AS_HOST_USER = """\
import json, sys
from mldeploy import AciWebservice, InferenceConfig, Model, Workspace
from mldeploy.targets.container import container_name
from tests.security.test_containers_non_root import container_uids

workspace = Workspace(sys.argv[1])
model = Model.register(workspace=workspace, model_path="echo.py", model_name="echo")
config = AciWebservice.deploy_configuration(cpu_cores=0.5, auth_enabled=True)
service = Model.deploy(workspace, "as-host-user", [model], InferenceConfig("echo.py"), config)
try:
    service.wait_for_deployment(timeout_sec=300)
    service.regen_key("Secondary")
    name = container_name(service._record)
    user = service._target.client.api.inspect_container(name)["Config"]["User"]
    uids = container_uids(service._target.client, name)
    print(json.dumps({"uid": service._record.uid, "uids": sorted(uids), "user": user, "answer": service.run('"hi"')}))
finally:
    service.delete()
"""


@pytest.fixture
def host_user_folder() -> Iterator[Path]:
    """A folder of the host user's (uid 4242), outside root's private temporary folders."""
    folder = Path(tempfile.mkdtemp(prefix="mldeploy-host-user-"))
    (folder / "echo.py").write_text(ECHO)
    for path in (folder, folder / "echo.py"):
        os.chown(path, HOST_USER, HOST_USER)
    yield folder
    shutil.rmtree(folder)


@pytest.mark.skipif(shutil.which("setpriv") is None or not DOCKER_SOCKET.exists(), reason="needs setpriv, a socket")
@pytest.mark.skipif(not SYSTEM_PYTHON.exists(), reason="needs the system's python3")
def test_a_host_user_who_is_not_root_runs_the_server_as_the_service_in_their_group(
    engine: Any, host_user_folder: Path
) -> None:
    """As uid 4242 (in the engine's group), with the system's python3 given this venv's packages: a venv made
    from root's own Python may lie where another user cannot run it. The service's uid is its own, not 4242
    (whose other processes could otherwise join its port), its group 4242's, which shares its folder."""
    command = ["setpriv", f"--reuid={HOST_USER}", f"--regid={HOST_USER}", f"--groups={DOCKER_SOCKET.stat().st_gid}",
               str(SYSTEM_PYTHON), "-c", AS_HOST_USER, str(host_user_folder / "workspace")]  # fmt: skip
    packages = [Path(mldeploy.__file__).parents[1], Path(__file__).parents[2], sysconfig.get_paths()["purelib"]]
    environment = {**os.environ, "HOME": str(host_user_folder), "PYTHONPATH": os.pathsep.join(map(str, packages))}
    environment.pop("MLDEPLOY_DATABASE_URL", None)
    ran = subprocess.run(command, cwd=host_user_folder, env=environment, capture_output=True, text=True, timeout=600)
    assert ran.returncode == 0, ran.stderr[-3000:]
    outcome = json.loads(ran.stdout.splitlines()[-1])
    uid = outcome["uid"]
    assert uid in UIDS and outcome == {"uid": uid, "uids": [uid], "user": f"{uid}:{HOST_USER}", "answer": '"hi"'}

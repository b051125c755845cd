"""Two Docker services on one host (issue 23, item 3). Both share the host's network, so a score.py can open any
port; Linux lets a socket join a port another listens on (SO_REUSEPORT, then steer its connections with a BPF
program, as our own hand-over does) only when both belong to one user. Each service runs as a uid of its own:
the other service's score.py is refused the port and the keyed service gets every connection; it cannot read
the other's files either. The uid is kept by an update (the hand-over still works), a reload and a start; a
service recorded before services had their own goes on as 10001 through hand-overs and gets its own when its
container is next replaced."""

import os
import shutil
import stat
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from mldeploy import AciWebservice, InferenceConfig, Model, Webservice, Workspace
from mldeploy.scoring.config import ServerConfig
from mldeploy.targets import service_containers
from mldeploy.targets.container import container_name
from mldeploy.targets.package import SERVER_UID
from mldeploy.targets.service_uids import UIDS
from tests.containers.conftest import docker_client  # noqa: F401 - the real engine (or a skip), shared
from tests.security.test_containers_non_root import container_uids
from tests.support.handover import LoopingClient

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root: reading the files as another service's uid"),
    pytest.mark.skipif(shutil.which("docker") is None, reason="needs the docker command (docker exec)"),
]
ECHO = "def init():\n    pass\n\n\ndef run(data):\n    return {'echo': data}\n"
REQUESTS = 10
STEAL_S = 5  # how long the attacker waits for one more connection
ATTACK = """\
import errno, socket, sys
from mldeploy.scoring.reuseport import steer_here

port = int(sys.argv[1])
listener = socket.socket()
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
try:
    listener.bind(("127.0.0.1", port))
    listener.listen()
except OSError as error:
    print(errno.errorcode[error.errno], flush=True)
    sys.exit()
steer_here(listener, "127.0.0.1", port)
print("joined", flush=True)
listener.settimeout(float(sys.argv[2]))
stolen = []
try:
    while True:
        connection, _ = listener.accept()
        stolen.append(connection.recv(65536))
        connection.close()
except TimeoutError:
    pass
print(len(stolen), sum(b"authorization: bearer" in head.lower() for head in stolen))
"""


@pytest.fixture
def engine(request: pytest.FixtureRequest) -> Any:
    return request.getfixturevalue("docker_client")


def _deploy(workspace: Workspace, model: Model, name: str, auth: bool) -> Webservice:
    config = AciWebservice.deploy_configuration(cpu_cores=0.2, memory_gb=0.3, auth_enabled=auth)
    service = Model.deploy(workspace, name, [model], InferenceConfig("echo.py"), config)
    service.wait_for_deployment(timeout_sec=300)
    return service


def _score(service: Webservice) -> str:
    """POST to the service with its key on a new connection: its status and answer, or how it failed."""
    key, _ = service.get_keys()
    try:
        answer = httpx.post(service.scoring_uri, content="hi", headers={"Authorization": f"Bearer {key}"}, timeout=30)
    except httpx.HTTPError as error:
        return type(error).__name__
    return f"{answer.status_code} {answer.text}"


def _uid(engine: Any, service: Webservice) -> int:
    """The uid every process of the service's container runs as."""
    [uid] = container_uids(engine, container_name(service._record))
    return uid


def test_another_services_uid_cannot_join_a_keyed_services_port_nor_read_its_files(
    engine: Any, workspace: Workspace, model: Model, project: Path
) -> None:
    (project / "echo.py").write_text(ECHO)
    victim = _deploy(workspace, model, "keyed-victim", auth=True)
    attacker = _deploy(workspace, model, "other-service", auth=False)
    uids = {_uid(engine, service) for service in (victim, attacker)}
    assert uids == {victim._record.uid, attacker._record.uid} and len(uids) == 2, uids
    assert all(uid in UIDS for uid in uids)

    command = ["docker", "exec", container_name(attacker._record), "/opt/mldeploy/env/bin/python", "-c", ATTACK,
               str(victim.port), str(STEAL_S)]  # fmt: skip
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as attack:
        assert attack.stdout is not None
        joined = attack.stdout.readline().strip()
        answers = Counter(_score(victim) for _ in range(REQUESTS))
        rest, errors = attack.communicate(timeout=60)
    assert joined == "EADDRINUSE", f"the other service joined the port ({joined} {errors}); stolen, keyed: {rest}"
    assert answers == Counter({'200 {"echo": "hi"}': REQUESTS})

    own = service_containers.folder(victim._record, engine.containers.get(container_name(victim._record)))
    assert own is not None
    for path, mode in ((own, 0o700), (own / "server.json", 0o600)):
        assert (path.stat().st_uid, stat.S_IMODE(path.stat().st_mode)) == (victim._record.uid, mode)
    assert (own / "status.json").stat().st_uid == victim._record.uid
    as_attacker = [f"--reuid={attacker._record.uid}", f"--regid={attacker._record.uid}", "--clear-groups"]
    read = subprocess.run(["setpriv", *as_attacker, "cat", str(own / "server.json")], capture_output=True, text=True)
    assert read.returncode != 0 and "Permission denied" in read.stderr, read.stdout[:200]


def test_the_uid_is_kept_by_updates_reloads_and_starts(
    engine: Any, workspace: Workspace, model: Model, project: Path
) -> None:
    (project / "echo.py").write_text(ECHO)
    service = _deploy(workspace, model, "kept-uid", auth=True)
    uid = service._record.uid
    service.update(deployment_config=AciWebservice.deploy_configuration(cpu_cores=0.3, memory_gb=0.3))
    service.reload()
    engine.containers.get(container_name(service._record)).stop()
    assert service.start() is True
    assert (_uid(engine, service), Webservice(workspace, "kept-uid")._record.uid) == (uid, uid)
    assert _score(service) == '200 {"echo": "hi"}'


def test_a_service_recorded_before_uids_keeps_10001_through_a_handover_then_gets_its_own(
    engine: Any, workspace: Workspace, model: Model, project: Path
) -> None:
    """A record without a uid, its container run as 10001 (as every container was before)."""
    (project / "echo.py").write_text(ECHO)
    service = _deploy(workspace, model, "recorded-before", auth=True)
    record = service._record
    service_containers.remove_others(engine, record, keep=None)
    record.uid = None
    record.save()
    config = ServerConfig.from_file(str(record.config_file))
    service_containers.point_status(record, service_containers.run(engine, record, config, successor=False))
    service = Webservice(workspace, "recorded-before")
    service.wait_for_deployment(timeout_sec=300)
    assert _uid(engine, service) == SERVER_UID

    key, _ = service.get_keys()
    with LoopingClient(service.port, b'"x"', {"Authorization": f"Bearer {key}"}) as client:
        client.wait_for(20)
        service.update(deployment_config=AciWebservice.deploy_configuration(cpu_cores=0.3, memory_gb=0.3))
        client.wait_for(20)
    assert client.failures == Counter()
    assert _uid(engine, service) == SERVER_UID

    engine.containers.get(container_name(service._record)).stop()
    service.start()
    uid = Webservice(workspace, "recorded-before")._record.uid
    assert uid in UIDS and _uid(engine, service) == uid
    assert service.run("hi") == {"echo": "hi"}

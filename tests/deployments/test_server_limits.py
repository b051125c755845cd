"""Worker recycling and the answer cap of deployed services (the options of `mldeploy serve`): given to
`mldeploy deploy`, `mldeploy service update` and the deployment configurations, kept in the service's record,
carried into its server, and refused with the fix when they cannot work."""

import json
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from mldeploy import AciWebservice, AksWebservice, WebserviceException, Workspace
from mldeploy.api.deploy_config import check_settings
from mldeploy.scoring.config import ServerConfig
from mldeploy.targets.server_limits import scoring_limits
from mldeploy.workspace.services import load
from tests.deployments.test_cli import mldeploy
from tests.support.servers import SCRIPTS


def _server_config(workspace: Workspace, name: str) -> ServerConfig:
    return ServerConfig(**json.loads(load(workspace.path, name).config_file.read_text()))


@pytest.mark.slow
def test_a_local_service_recycles_its_workers_and_an_update_keeps_what_it_does_not_give(
    workspace: Workspace, project: Path
) -> None:
    shutil.copy(SCRIPTS / "pid.py", project / "pid.py")
    deployed = mldeploy(workspace, "deploy", "recycled", "--entry-script", "pid.py", "--workers", "2",
                        "--max-requests-per-worker", "5")  # fmt: skip
    assert deployed.returncode == 0, deployed.stderr
    assert load(workspace.path, "recycled").deployment_config["max_requests_per_worker"] == 5
    assert _server_config(workspace, "recycled").max_requests_per_worker == 5
    uri = load(workspace.path, "recycled").scoring_uri
    with httpx.Client(timeout=30) as client, ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(lambda _: client.post(uri, content="0.005"), range(120)))
    assert [answer.status_code for answer in answers] == [200] * 120
    assert len({answer.text for answer in answers}) >= 3  # replaced after 5 requests (each serves until the next is up)
    assert "(--max-requests-per-worker)" in mldeploy(workspace, "service", "logs", "recycled").stdout

    updated = mldeploy(workspace, "service", "update", "recycled", "--max-response-mb", "0.5",
                       "--max-worker-rss-mb", "900")  # fmt: skip
    assert updated.returncode == 0, updated.stderr
    config = _server_config(workspace, "recycled")
    assert (config.max_requests_per_worker, config.max_worker_rss_mb, config.max_response_bytes) == (5, 900, 2**19)
    assert mldeploy(workspace, "service", "update", "recycled", "--workers", "1").returncode == 0
    settings = load(workspace.path, "recycled").deployment_config
    assert (settings["max_requests_per_worker"], settings["max_worker_rss_mb"], settings["max_response_mb"]) == (
        5, 900, 0.5,
    )  # fmt: skip
    refused = mldeploy(workspace, "service", "update", "recycled", "--max-requests-per-worker", "-1")
    assert refused.returncode == 2
    assert "--max-requests-per-worker -1 cannot be used: give 0 (off)" in refused.stderr


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--max-worker-rss-mb", "-5"], "--max-worker-rss-mb -5 cannot be used: give 0 (off) or a whole number"),
        (["--max-response-mb", "-1"], "--max-response-mb -1.0 cannot be used: give 0 (off) or a number of MB"),
        (["--target", "docker", "--max-worker-rss-mb", "512"], "Set --max-worker-rss-mb below 448"),
        (["--target", "docker", "--memory", "2", "--max-worker-rss-mb", "4096"], "or raise --memory"),
        (["--target", "kubernetes", "--memory", "1", "--max-worker-rss-mb", "1024"], "or raise --memory"),
    ],
    ids=["negative-rss", "negative-response", "docker-default-memory", "docker-memory", "kubernetes"],
)
def test_limits_that_cannot_work_are_refused_before_anything_is_made(
    flags: list[str], message: str, workspace: Workspace, project: Path
) -> None:
    refused = mldeploy(workspace, "deploy", "limited", "--entry-script", "score.py", *flags)
    assert refused.returncode == 2
    assert message in refused.stderr
    assert json.loads(mldeploy(workspace, "service", "list", "-o", "json").stdout) == []


def test_the_deployment_configurations_carry_them_checked(capsys: pytest.CaptureFixture[str]) -> None:
    for webservice in (AciWebservice, AksWebservice):
        defaults = webservice.deploy_configuration()
        assert scoring_limits(defaults) == {"max_requests_per_worker": 0, "max_worker_rss_mb": 0,
                                            "max_response_bytes": 0}  # fmt: skip
        given = webservice.deploy_configuration(memory_gb=1, max_requests_per_worker=100, max_worker_rss_mb=600,
                                                max_response_mb=1.5)  # fmt: skip
        assert scoring_limits(given) == {"max_requests_per_worker": 100, "max_worker_rss_mb": 600,
                                         "max_response_bytes": 1_572_864}  # fmt: skip
    with pytest.raises(WebserviceException, match=r"max_worker_rss_mb 512 is at or above .* raise memory_gb\."):
        AciWebservice.deploy_configuration(memory_gb=0.5, max_worker_rss_mb=512)
    # without memory_gb, judged by the deploy or the update against the memory the service gets (or keeps)
    assert AciWebservice.deploy_configuration(max_worker_rss_mb=1000)["max_worker_rss_mb"] == 1000
    with pytest.raises(WebserviceException, match=r"max_worker_rss_mb 1000 is at or above .* raise memory_gb\."):
        check_settings(AciWebservice.deploy_configuration(max_worker_rss_mb=1000))
    with pytest.raises(WebserviceException, match=r"or raise memory_gb_limit\."):
        AksWebservice.deploy_configuration(memory_gb=1, memory_gb_limit=0.5, max_worker_rss_mb=600)
    with pytest.raises(WebserviceException, match=r"max_requests_per_worker 2\.5 cannot be used"):
        AksWebservice.deploy_configuration(max_requests_per_worker=2.5)
    capsys.readouterr()
    check_settings(AciWebservice.deploy_configuration(memory_gb=1, workers=2, max_worker_rss_mb=600))
    assert "2 worker(s) at max_worker_rss_mb 600 plus the front" in capsys.readouterr().err

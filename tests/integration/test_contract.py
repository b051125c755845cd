"""The HTTP and scoring contract that goes beyond the reference: auth, limits, metrics, models, settings."""

import subprocess
import sys

import httpx

from tests.conftest import Servers
from tests.support.servers import SCRIPTS, free_port


def test_auth_key_required_on_score_only(servers: Servers) -> None:
    server = servers.ours("echo.py", args=["--auth-key", "first", "--auth-key", "second"])
    url = server.url + "/score"
    assert httpx.post(url, content="x").status_code == 401
    denied = httpx.post(url, content="x", headers={"Authorization": "Bearer wrong"})
    assert denied.status_code == 401
    assert denied.headers["www-authenticate"] == "Bearer"
    assert "Authorization: Bearer" in denied.json()["message"]
    for key in ("first", "second"):
        assert httpx.post(url, content="x", headers={"Authorization": f"Bearer {key}"}).json() == "x"
    assert httpx.get(server.url + "/").status_code == 200
    # where a proxy keeps Authorization for itself (the Kubernetes API server), the key has its own header
    assert httpx.post(url, content="x", headers={"X-Mldeploy-Key": "second"}).json() == "x"
    assert httpx.post(url, content="x", headers={"X-Mldeploy-Key": "wrong"}).status_code == 401
    assert httpx.post(url, content="x", headers={"X-Mldeploy-Key": ""}).status_code == 401


def test_body_over_the_limit_is_413(servers: Servers) -> None:
    server = servers.ours("echo.py", args=["--max-body-mb", "0.001"])
    assert httpx.post(server.url + "/score", content="y" * 1000).status_code == 200
    answer = httpx.post(server.url + "/score", content="y" * 5000)
    assert answer.status_code == 413
    assert "larger than the limit" in answer.json()["message"]
    assert httpx.get(server.url + "/").status_code == 200


def test_metrics_count_requests_by_status(servers: Servers) -> None:
    server = servers.ours("run_raises.py")
    httpx.post(server.url + "/score", content="x")
    httpx.post(server.url + "/score", content="x")
    text = httpx.get(server.url + "/metrics").text
    assert 'mldeploy_requests_total{route="/score",status="500"} 2.0' in text
    assert "mldeploy_workers_ready 1.0" in text
    assert "mldeploy_request_duration_seconds_bucket" in text
    assert "mldeploy_queue_wait_seconds_count" in text
    assert "mldeploy_worker_restarts_total 0.0" in text


def test_get_model_path_resolves_the_latest_version_without_azureml(servers: Servers) -> None:
    server = servers.ours("get_model_path.py", model_dir="azureml-models/sk-model/2")
    assert httpx.post(server.url + "/score", content="x").json() == {
        "model_path": "azureml-models/sk-model/2/model.pkl",
        "model_dir_part": "sk-model",
    }


def test_get_model_path_failure_lists_the_tree_and_closest_name(servers: Servers) -> None:
    server = servers.ours(
        "get_model_path.py", healthy=False, env={"WANTED_MODEL": "sk-modle"}, args=["--init-retries", "0"]
    )
    assert server.wait_exit() == 3
    log = server.log()
    assert "Model 'sk-modle' was not found" in log
    assert "Did you mean 'sk-model'?" in log
    assert "    model.pkl" in log


def test_reference_environment_variables_are_honoured(servers: Servers) -> None:
    server = servers.ours(
        None,
        workers=None,
        env={"AZUREML_ENTRY_SCRIPT": str(SCRIPTS / "sleepy.py"), "SCORING_TIMEOUT_MS": "300", "WORKER_COUNT": "2"},
    )
    assert httpx.post(server.url + "/score", content="1", timeout=30).status_code == 504
    assert "Workers:             2" in server.log()


def _serve(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mldeploy", "serve", *args], capture_output=True, text=True, timeout=60
    )


def test_missing_entry_script_is_a_clear_error() -> None:
    result = _serve("does-not-exist.py")
    assert result.returncode == 2
    assert "does-not-exist.py does not exist" in result.stderr


def test_port_in_use_is_a_clear_error(servers: Servers) -> None:
    server = servers.ours("echo.py")
    result = _serve(str(SCRIPTS / "echo.py"), "--port", str(server.port))
    assert result.returncode == 2
    assert f"Cannot listen on 127.0.0.1:{server.port}" in result.stderr
    assert "--port" in result.stderr


def test_invalid_setting_is_a_clear_error() -> None:
    result = _serve(str(SCRIPTS / "echo.py"), "--workers", "0", "--port", str(free_port()))
    assert result.returncode == 2
    assert "Worker count 0 must be at least 1" in result.stderr


def test_shims_import_without_any_azureml_package() -> None:
    code = (
        "from mldeploy.scoring import shim; shim.install();"
        "from azureml.contrib.services.aml_request import AMLRequest, rawhttp;"
        "from azureml.contrib.services.aml_response import AMLResponse;"
        "import azureml.contrib.services.aml_response as r;"
        "from azureml.core.model import Model;"
        "import importlib.util;"
        "print(importlib.util.find_spec('azureml.core') is not None, r.AMLResponse is AMLResponse)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "True True"

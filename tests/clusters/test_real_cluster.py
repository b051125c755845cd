"""Opt-in: the whole lifecycle on a REAL cluster. Skipped unless MLDEPLOY_TEST_CLUSTER=1, because no cluster
can be had on our machines. Uses the current KUBECONFIG context; MLDEPLOY_TEST_REGISTRY names a registry the
cluster pulls from (the image is pushed there; `docker login` first), MLDEPLOY_TEST_NAMESPACE a namespace
(default: default). See docs/kubernetes-deployments.md."""

import os
from pathlib import Path

import pytest

from mldeploy import AksWebservice, InferenceConfig, Model, Workspace

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.environ.get("MLDEPLOY_TEST_CLUSTER") != "1", reason="no real cluster (opt-in)"),
]


def test_lifecycle_on_a_real_cluster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "echo.py").write_text("def init():\n    pass\n\n\ndef run(data):\n    return data\n")
    (tmp_path / "model.txt").write_text("a model")
    workspace = Workspace(tmp_path / "workspace")
    model = Model.register(workspace, "model.txt", "echo-model")
    config = AksWebservice.deploy_configuration(
        namespace=os.environ.get("MLDEPLOY_TEST_NAMESPACE", "default"),
        registry=os.environ.get("MLDEPLOY_TEST_REGISTRY"),
        initial_delay_seconds=10,
    )
    service = Model.deploy(workspace, "mldeploy-e2e", [model], InferenceConfig("echo.py"), config, overwrite=True)
    try:
        service.wait_for_deployment(show_output=True, timeout_sec=600)
        assert service.state == "Healthy"
        assert service.run('"ping"') == '"ping"'
        service.regen_key("Secondary")
        service.wait_for_deployment(timeout_sec=600)
        assert service.run('"pong"') == '"pong"'
        assert "Booting worker with pid" in service.get_logs()
        assert service.diagnose() == []
    finally:
        service.delete()

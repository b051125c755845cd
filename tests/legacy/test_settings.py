"""legacy_compat travels from every deployment configuration (and MLDEPLOY_LEGACY_COMPAT=1) to the workers."""

import dataclasses
from pathlib import Path

import pytest

from mldeploy import AciWebservice, AksWebservice, LocalWebservice
from mldeploy.scoring.config import ServerConfig
from mldeploy.targets.kube_manifests import server_config

ENV = "MLDEPLOY_LEGACY_COMPAT"


def test_the_three_deployment_configurations_take_it_off_by_default() -> None:
    for webservice in (LocalWebservice, AciWebservice, AksWebservice):
        assert webservice.deploy_configuration()["legacy_compat"] is False
        assert webservice.deploy_configuration(legacy_compat=True)["legacy_compat"] is True


def test_a_kubernetes_pod_runs_its_workers_with_it() -> None:
    image = ServerConfig(entry_script="/var/azureml-app/score.py", app_root="/var/azureml-app")
    settings = AksWebservice.deploy_configuration(legacy_compat=True)
    assert server_config(image, settings, []).legacy_compat
    assert not server_config(image, AksWebservice.deploy_configuration(), []).legacy_compat


def test_only_the_workers_of_a_server_with_it_see_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, "1")
    config = ServerConfig(entry_script="score.py", app_root=".")
    assert ENV not in config.worker_environment()
    assert dataclasses.replace(config, legacy_compat=True).worker_environment()[ENV] == "1"


def test_an_image_takes_it_at_run_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "server.json"
    path.write_text(ServerConfig(entry_script="score.py", app_root=".").to_json())
    assert not ServerConfig.from_file(str(path)).legacy_compat
    monkeypatch.setenv(ENV, "1")
    assert ServerConfig.from_file(str(path)).legacy_compat

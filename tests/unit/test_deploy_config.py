"""v1 deploy configurations: defaults, Azure-only arguments ignored, unknown ones refused by name."""

import pytest

from mldeploy import AciWebservice, LocalWebservice, WebserviceException


def test_aci_defaults_are_v1s() -> None:
    config = AciWebservice.deploy_configuration()
    assert (config["cpu_cores"], config["memory_gb"], config["auth_enabled"], config.target) == (
        0.1,
        0.5,
        False,
        "docker",
    )
    assert LocalWebservice.deploy_configuration().target == "local"


def test_azure_only_arguments_are_ignored_and_unknown_ones_named(capsys: pytest.CaptureFixture[str]) -> None:
    assert "location" not in AciWebservice.deploy_configuration(location="westeurope", dns_name_label="x")
    assert "Ignored (Azure only" in capsys.readouterr().err
    with pytest.raises(WebserviceException, match=r"unknown argument.*: memory\b"):
        AciWebservice.deploy_configuration(memory=1)


def test_every_target_takes_worker_recycling_and_the_answer_cap() -> None:
    for configuration in (LocalWebservice.deploy_configuration, AciWebservice.deploy_configuration):
        config = configuration(max_requests_per_worker=5, max_worker_rss_mb=100, max_response_mb=2)
        limits = (config["max_requests_per_worker"], config["max_worker_rss_mb"], config["max_response_mb"])
        assert limits == (5, 100, 2)

import json
from pathlib import Path

import pytest

from mldeploy.scoring.config import ConfigError, ServerConfig, build_config


@pytest.fixture
def script(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("AZUREML_ENTRY_SCRIPT", "AZUREML_MODEL_DIR", "AML_APP_ROOT", "WORKER_COUNT", "SCORING_TIMEOUT_MS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "score.py"
    path.write_text("def init(): pass\ndef run(d): return d\n")
    return path


def test_model_dir_is_kept_exactly_as_given(script: Path) -> None:
    config = build_config("score.py", model_dir="azureml-models/m/1")
    assert config.model_dir == "azureml-models/m/1"
    assert config.worker_environment()["AZUREML_MODEL_DIR"] == "azureml-models/m/1"


def test_environment_variables_fill_what_the_command_line_leaves_out(
    script: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AZUREML_ENTRY_SCRIPT", "score.py")
    monkeypatch.setenv("WORKER_COUNT", "3")
    monkeypatch.setenv("SCORING_TIMEOUT_MS", "1234")
    config = build_config(None)
    assert (config.entry_script, config.workers, config.scoring_timeout_ms) == (str(script), 3, 1234)
    assert config.max_concurrent_requests == 3
    assert build_config(None, workers=1).workers == 1


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"port": 70000}, "outside 1-65535"),
        ({"workers": 0}, "at least 1"),
        ({"scoring_timeout_ms": 0}, "scoring timeout"),
        ({"max_request_wait_ms": -1}, "cannot be negative"),
        ({"max_headers": 0}, "--max-headers must be at least 1"),
    ],
)
def test_impossible_settings_are_refused_with_the_fix(script: Path, options: dict, message: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(ConfigError, match=message):
        build_config("score.py", **options)


def test_a_bad_number_in_the_environment_names_the_variable(script: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKER_COUNT", "two")
    with pytest.raises(ConfigError, match="WORKER_COUNT='two'"):
        build_config("score.py")


def test_a_config_written_by_a_newer_version_loads_without_what_it_does_not_know(
    script: Path, caplog: pytest.LogCaptureFixture
) -> None:
    written = json.loads(build_config("score.py", workers=3).to_json())
    path = script.parent / "server.json"
    path.write_text(json.dumps({**written, "a_setting_of_tomorrow": 7}))
    with caplog.at_level("WARNING", logger="mldeploy.server"):
        loaded = ServerConfig.from_file(str(path))
    assert loaded.workers == 3
    assert "settings left out" in caplog.text and "a_setting_of_tomorrow" in caplog.text

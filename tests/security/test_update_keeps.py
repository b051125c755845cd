"""An update keeps every setting it is not given (issue 23, item 4): each option of `mldeploy service update`
and each argument of `Webservice.update()` given alone changes that setting only; the service's models, code,
environment and other settings stay as deployed, in its record, its server's config and the running service
(its environment's package still imports). Real local services; the reported case (an update of the scoring
script alone dropping the environment) also on the real Docker engine."""

import json
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mldeploy import AciWebservice, Environment, InferenceConfig, LocalWebservice, Model, Webservice, Workspace
from mldeploy.workspace.services import load
from tests.containers.conftest import docker_client
from tests.deployments.test_cli import mldeploy

__all__ = ["docker_client"]
pytestmark = pytest.mark.slow

NAME = "kept"
# The environment's package: mldeploy's own environment lacks it, so a service that lost its environment fails
# init() with "No module named 'six'".
SCRIPT = """\
import os

import six


def init():
    pass


def run(data):
    return {{"script": "{script}", "six": six.__version__, "models": os.environ.get("AZUREML_MODEL_DIR")}}
"""
SERVER_FIELDS = ("port", "workers", "debug_errors", "legacy_compat", "max_requests_per_worker", "max_worker_rss_mb",
                 "max_response_bytes", "python", "model_dir", "auth_keys", "scoring_timeout_ms",
                 "max_concurrent_requests", "max_request_wait_ms")  # fmt: skip
DEPLOYED_KEYS = ("primary_key", "secondary_key")  # the keys given to the deploy; "keys": the ones served
MODELS = ("models", "server model_dir")
ENVIRONMENT = ("environment", "python", "server python")


def write_project(project: Path) -> None:
    for script in ("score.py", "v2.py", "app/score.py", "app/v2.py", "app2/score.py"):
        (project / script).parent.mkdir(exist_ok=True)
        (project / script).write_text(SCRIPT.format(script=script))
    (project / "requirements.txt").write_text("six\n")
    (project / "requirements2.txt").write_text("six\ntabulate\n")
    (project / "conda.yml").write_text(
        textwrap.dedent("""\
            name: conda-env
            dependencies:
              - pip:
                - six
        """)
    )


@pytest.fixture
def deployed(workspace: Workspace, model: Model, project: Path) -> Webservice:
    """A local service deployed with every setting away from its default, and a second model version."""
    write_project(project)
    Model.register(workspace, "model.pkl", "my_best_model")
    environment = Environment.from_pip_requirements(f"{NAME}-env", "requirements.txt")
    config = LocalWebservice.deploy_configuration(
        workers=2, debug_errors=True, legacy_compat=True, max_requests_per_worker=50, max_worker_rss_mb=900,
        max_response_mb=2,
    )  # fmt: skip
    service = Model.deploy(workspace, NAME, [model], InferenceConfig("score.py", "app", environment), config)
    service.wait_for_deployment()
    return service


def snapshot(workspace: Workspace, name: str) -> dict[str, Any]:
    """What the service was deployed with, as its record and its server's config hold it."""
    record = load(workspace.path, name)
    server = json.loads(record.config_file.read_text())
    return {
        "models": record.models,
        "entry_script": Path(record.entry_script).name,
        "source_directory": record.source_directory and Path(record.source_directory).name,
        "environment": record.environment,
        "python": record.python,
        "port": record.port,
        "keys": record.keys,
        "image": record.image is not None,
        **{f"setting {key}": value for key, value in record.deployment_config.items() if key not in DEPLOYED_KEYS},
        **{f"server {field}": server.get(field) for field in SERVER_FIELDS},
    }


def assert_only(before: dict[str, Any], after: dict[str, Any], changed: tuple[str, ...]) -> None:
    assert {key: value for key, value in after.items() if key not in changed} == {
        key: value for key, value in before.items() if key not in changed
    }
    not_changed = [key for key in changed if key != "python" and after.get(key) == before.get(key)]
    assert not_changed == [], "the option did not take effect"


def assert_serves(service: Webservice, script: str) -> None:
    """The service answers from ``script`` in its environment (six imports)."""
    answer = service.run("{}")
    assert (answer["script"], answer["six"]) == (script, "1.17.0")


CLI_OPTIONS = {
    "model": (["--model", "my_best_model:2"], MODELS, "app/score.py"),
    "entry-script": (["--entry-script", "v2.py"], ("entry_script",), "app/v2.py"),
    "source-dir": (["--source-dir", "app2"], ("source_directory",), "app2/score.py"),
    "pip-requirements": (["--pip-requirements", "requirements2.txt"], ENVIRONMENT, "app/score.py"),
    "conda-file": (["--conda-file", "conda.yml"], ("environment",), "app/score.py"),
    "workers": (["--workers", "3"], ("setting workers", "server workers"), "app/score.py"),
    "max-requests-per-worker": (
        ["--max-requests-per-worker", "10"], ("setting max_requests_per_worker", "server max_requests_per_worker"),
        "app/score.py",
    ),
    "max-worker-rss-mb": (
        ["--max-worker-rss-mb", "800"], ("setting max_worker_rss_mb", "server max_worker_rss_mb"), "app/score.py"
    ),
    "max-response-mb": (
        ["--max-response-mb", "3"], ("setting max_response_mb", "server max_response_bytes"), "app/score.py"
    ),
}  # fmt: skip


@pytest.mark.parametrize(("args", "changed", "script"), CLI_OPTIONS.values(), ids=CLI_OPTIONS.keys())
def test_a_service_update_option_alone_keeps_everything_else(
    args: list[str], changed: tuple[str, ...], script: str, workspace: Workspace, deployed: Webservice
) -> None:
    before = snapshot(workspace, NAME)
    updated = mldeploy(workspace, "service", "update", NAME, *args)
    assert updated.returncode == 0, updated.stderr
    assert_only(before, snapshot(workspace, NAME), changed)
    assert_serves(Webservice(workspace, NAME), script)


def _models(workspace: Workspace, service: Webservice) -> None:
    service.update(models=[Model(workspace, "my_best_model", version=2)])


def _local(**settings: Any) -> Callable[[Workspace, Webservice], None]:
    return lambda workspace, service: service.update(deployment_config=LocalWebservice.deploy_configuration(**settings))


def _inference(**given: Any) -> Callable[[Workspace, Webservice], None]:
    return lambda workspace, service: service.update(inference_config=InferenceConfig(**given))


def _environment(workspace: Workspace, service: Webservice) -> None:
    environment = Environment.from_pip_requirements("other-env", "requirements2.txt")
    service.update(inference_config=InferenceConfig(environment=environment))


def _same_port(workspace: Workspace, service: Webservice) -> None:
    service.update(deployment_config=LocalWebservice.deploy_configuration(port=service.port))


API_ARGUMENTS = {
    "models": (_models, MODELS, "app/score.py"),
    "entry_script": (_inference(entry_script="v2.py"), ("entry_script",), "app/v2.py"),
    "source_directory": (_inference(source_directory="app2"), ("source_directory",), "app2/score.py"),
    "environment": (_environment, ENVIRONMENT, "app/score.py"),
    "workers": (_local(workers=3), ("setting workers", "server workers"), "app/score.py"),
    "debug_errors": (_local(debug_errors=False), ("setting debug_errors", "server debug_errors"), "app/score.py"),
    "legacy_compat": (_local(legacy_compat=False), ("setting legacy_compat", "server legacy_compat"), "app/score.py"),
    "max_requests_per_worker": (
        _local(max_requests_per_worker=10), ("setting max_requests_per_worker", "server max_requests_per_worker"),
        "app/score.py",
    ),
    "max_worker_rss_mb": (
        _local(max_worker_rss_mb=800), ("setting max_worker_rss_mb", "server max_worker_rss_mb"), "app/score.py"
    ),
    "max_response_mb": (
        _local(max_response_mb=3), ("setting max_response_mb", "server max_response_bytes"), "app/score.py"
    ),
    "port": (_same_port, ("setting port",), "app/score.py"),  # the same port, now given
}  # fmt: skip


@pytest.mark.parametrize(("update", "changed", "script"), API_ARGUMENTS.values(), ids=API_ARGUMENTS.keys())
def test_an_update_argument_alone_keeps_everything_else(
    update: Callable[[Workspace, Webservice], None],
    changed: tuple[str, ...],
    script: str,
    workspace: Workspace,
    deployed: Webservice,
) -> None:
    before = snapshot(workspace, NAME)
    update(workspace, deployed)
    assert_only(before, snapshot(workspace, NAME), changed)
    assert_serves(deployed, script)


def test_a_new_scoring_script_alone_keeps_the_environment_in_the_docker_image(
    docker_client: Any, workspace: Workspace, model: Model, project: Path
) -> None:
    """The reported case: the new revision was built without the environment, its init() failed ("No module
    named 'six'") and the old revision kept serving. Then a deploy_configuration given one setting."""
    write_project(project)
    deployed = mldeploy(workspace, "deploy", "kept-docker", "--target", "docker", "--model", "my_best_model:1",
                        "--entry-script", "score.py", "--pip-requirements", "requirements.txt", "--cpu", "0.5",
                        "--memory", "1", "--auth", "--workers", "2", "--max-requests-per-worker", "50")  # fmt: skip
    assert deployed.returncode == 0, deployed.stderr
    before = snapshot(workspace, "kept-docker")
    updated = mldeploy(workspace, "service", "update", "kept-docker", "--entry-script", "v2.py")
    assert updated.returncode == 0, updated.stderr
    assert_only(before, snapshot(workspace, "kept-docker"), ("entry_script",))
    assert_serves(Webservice(workspace, "kept-docker"), "v2.py")
    described = AciWebservice.deploy_configuration(description="scores churn")
    Webservice(workspace, "kept-docker").update(deployment_config=described)
    after = snapshot(workspace, "kept-docker")
    assert_only(before, after, ("entry_script", "setting description"))
    assert after["setting description"] == "scores churn"

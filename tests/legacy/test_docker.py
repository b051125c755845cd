"""In a container (the ACI equivalent, the real Docker engine): the legacy breakage is the CrashLoopBackOff
message's cause and fix; legacy_compat=True in the deployment configuration makes the unchanged script serve."""

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from mldeploy import AciWebservice, Environment, InferenceConfig, Model, WebserviceException, Workspace
from tests.containers.conftest import docker_client  # noqa: F401 - the real engine, or a skip outside CI
from tests.deployments.conftest import model, project, workspace  # noqa: F401 - shared fixtures
from tests.support.servers import SCRIPTS

pytestmark = pytest.mark.slow

ROWS = json.dumps({"data": [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]]})


def test_the_crash_loop_names_the_breakage_and_legacy_compat_serves_it(
    docker_client: Any,  # noqa: F811
    workspace: Workspace,  # noqa: F811
    model: Model,  # noqa: F811
    project: Path,  # noqa: F811
) -> None:
    shutil.copy(SCRIPTS / "legacy_sklearn_externals.py", project / "old_score.py")
    (project / "requirements.txt").write_text("numpy\nscikit-learn\njoblib\n")
    config = InferenceConfig("old_score.py", environment=Environment.from_pip_requirements("env", "requirements.txt"))
    service = Model.deploy(workspace, "aci-legacy", [model], config, AciWebservice.deploy_configuration())
    with pytest.raises(WebserviceException) as failure:
        service.wait_for_deployment(timeout_sec=180)
    message = str(failure.value)
    assert "CrashLoopBackOff" in message
    assert "sklearn.externals.joblib was removed in scikit-learn 0.23" in message
    assert "Fix: write `import joblib` instead (old_score.py, line 7)" in message
    service.update(deployment_config=AciWebservice.deploy_configuration(legacy_compat=True))
    assert service.state == "Healthy"
    assert len(service.run(ROWS)) == 1
    assert "Legacy compatibility: sklearn.externals.joblib is joblib" in service.get_logs()

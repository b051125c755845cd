"""The seed's Python snippets, transcribed with only the imports changed to mldeploy, on a real local deployment."""

import json
import socket
from pathlib import Path

import pytest

from mldeploy import Environment, InferenceConfig, LocalWebservice, Model, Webservice, WebserviceException, Workspace

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_the_seed_flow_runs_unchanged(workspace: Workspace, model: Model, project: Path) -> None:
    ws = workspace
    port = _free_port()

    # Create inference configuration based on the environment definition and the entry script
    myenv = Environment.from_conda_specification(name="env", file_path="myenv.yml")
    inference_config = InferenceConfig(entry_script="score.py", environment=myenv)
    # Create a local deployment, using port 8890 for the web service endpoint
    deployment_config = LocalWebservice.deploy_configuration(port=port)
    # Deploy the service
    service = Model.deploy(ws, "mymodel", [model], inference_config, deployment_config)
    # Wait for the deployment to complete
    service.wait_for_deployment(True)
    # Display the port that the web service is available on
    print(service.port)
    assert service.port == port
    assert service.state == "Healthy"

    test_sample = json.dumps({"data": [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10], [10, 9, 8, 7, 6, 5, 4, 3, 2, 1]]})
    test_sample = bytes(test_sample, encoding="utf8")
    prediction = service.run(input_data=test_sample)
    print(prediction)
    assert len(json.loads(prediction)["result"]) == 2

    (project / "score.py").write_text(
        (project / "score.py").read_text().replace('{"result": result.tolist()}', '{"reloaded": result.tolist()}')
    )
    service.reload()
    print(service.run(input_data=test_sample))
    assert "reloaded" in json.loads(service.run(input_data=test_sample))

    different_model = Model.register(model_path="model.pkl", model_name="my_best_model", workspace=ws)
    service.update([different_model], inference_config, deployment_config)
    assert service.models == ["my_best_model:2"]

    # if you already have the service object handy
    print(service.get_logs())
    # if you only know the name of the service
    print(ws.webservices["mymodel"].get_logs())
    assert "Booting worker with pid" in ws.webservices["mymodel"].get_logs()

    service.delete()
    assert "mymodel" not in ws.webservices
    with pytest.raises(WebserviceException, match="No service 'mymodel'"):
        Webservice(ws, "mymodel")

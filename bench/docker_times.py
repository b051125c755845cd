"""Build and deploy times of the Docker target, cold and warm: `python bench/docker_times.py [--cold]`.

--cold removes the environment layers (mldeploy/env) first, so the first deployment installs its packages;
the base image is kept (it is made once per host; see docs/docker-deployments.md for its time).
Services get --cpu cores (default 1: at the v1 default of 0.1, starting is slower by the time init()
takes at a tenth of a core). Steps: deploy (cold or warm environment), deploy an identical second service
(every layer cached), reload after editing score.py (only the code layer is rebuilt), update memory_gb
(new container), delete.
"""

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.fixtures.models import build_diabetes_model
from tests.support.servers import SCRIPTS

from mldeploy import AciWebservice, Environment, InferenceConfig, Model, Workspace
from mldeploy.targets.docker_engine import connect

SAMPLE = json.dumps({"data": [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]]})


def timed(label: str, step, results: list[tuple[str, float]]) -> None:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    step()
    results.append((label, time.perf_counter() - started))
    print(f"{label:<58} {results[-1][1]:6.1f} s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cold", action="store_true", help="remove the environment layers first")
    parser.add_argument("--cpu", type=float, default=1.0, help="cpu_cores of the services (v1 default: 0.1)")
    arguments = parser.parse_args()
    cold, cpu_cores = arguments.cold, arguments.cpu
    client = connect()
    if cold:
        for image in client.images.list(name="mldeploy/env"):
            for tag in image.tags:
                client.images.remove(tag)
        client.images.prune(filters={"dangling": True})
    results: list[tuple[str, float]] = []
    with tempfile.TemporaryDirectory(prefix="mldeploy-bench-") as folder:
        project = Path(folder)
        shutil.copy(SCRIPTS / "seed_predict.py", project / "score.py")
        (project / "requirements.txt").write_text("numpy\nscikit-learn\njoblib\n")
        build_diabetes_model(project / "model.pkl")
        workspace = Workspace(project / "workspace")
        model = Model.register(workspace, project / "model.pkl", "my_best_model")
        environment = Environment.from_pip_requirements("env", project / "requirements.txt")
        config = InferenceConfig(str(project / "score.py"), environment=environment)
        services = []

        def deploy(name: str) -> None:
            settings = AciWebservice.deploy_configuration(cpu_cores=cpu_cores)
            service = Model.deploy(workspace, name, [model], config, settings)
            service.wait_for_deployment()
            service.run(SAMPLE)
            services.append(service)

        timed(f"deploy to Healthy, {'cold' if cold else 'warm'} environment layer", lambda: deploy("bench-a"), results)
        timed("deploy an identical service (all layers cached)", lambda: deploy("bench-b"), results)
        score = project / "score.py"
        score.write_text(score.read_text() + "\n# edited\n")
        timed("reload after editing score.py (code layer only)", services[0].reload, results)
        timed(
            "update memory_gb (new container, same image layers)",
            lambda: services[0].update(
                deployment_config=AciWebservice.deploy_configuration(cpu_cores=cpu_cores, memory_gb=0.6)
            ),
            results,
        )
        timed("delete both", lambda: [service.delete() for service in services], results)


if __name__ == "__main__":
    main()

"""Peers serving the same joblib Ridge model on the same two rows as predict_list.py: Seldon MLServer (its
scikit-learn runtime, REST, V2 protocol) and BentoML (a service calling predict). Each in its own cached venv
with our numpy, scikit-learn and joblib; a peer that cannot be installed is reported with the reason."""

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

from tests.support.reference import cached_venv
from tests.support.servers import Server, free_port

SHARED_LIBRARIES = ("numpy", "scikit-learn", "joblib")
ROWS = [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10], [10, 9, 8, 7, 6, 5, 4, 3, 2, 1]]
BENTO_SERVICE = """import os

import bentoml
import joblib
import numpy as np


@bentoml.service(workers=1)
class Ridge:
    def __init__(self) -> None:
        self.model = joblib.load(os.environ["PEER_MODEL"])

    @bentoml.api
    def predict(self, data: list[list[float]]) -> list[float]:
        return self.model.predict(np.asarray(data)).tolist()
"""


@dataclass(frozen=True)
class Peer:
    """``start(work_dir, model_file, log_dir)`` starts it; POST ``body`` to ``path``; ready when ``health`` is 200."""

    name: str
    requirements: tuple[str, ...]
    path: str
    body: str
    health: str
    start: Callable[[Path, Path, Path, Path], Server]


def _mlserver(bin_dir: Path, work_dir: Path, model_file: Path, log_dir: Path) -> Server:
    folder = work_dir / "mlserver"
    folder.mkdir(exist_ok=True)
    (folder / "model.joblib").write_bytes(model_file.read_bytes())
    settings = {"name": "ridge", "implementation": "mlserver_sklearn.SKLearnModel",
                "parameters": {"uri": "./model.joblib"}}  # fmt: skip
    (folder / "model-settings.json").write_text(json.dumps(settings))
    port = free_port()
    server = {"host": "127.0.0.1", "http_port": port, "grpc_port": free_port(), "metrics_port": free_port(),
              "parallel_workers": 0}  # fmt: skip
    (folder / "settings.json").write_text(json.dumps(server))
    command = [str(bin_dir / "mlserver"), "start", str(folder)]
    return Server(command, port, folder, dict(os.environ), log_dir / f"mlserver-{port}.log")


def _bentoml(bin_dir: Path, work_dir: Path, model_file: Path, log_dir: Path) -> Server:
    folder = work_dir / "bentoml"
    folder.mkdir(exist_ok=True)
    (folder / "service.py").write_text(BENTO_SERVICE)
    port = free_port()
    command = [str(bin_dir / "bentoml"), "serve", "service:Ridge", "--host", "127.0.0.1", "--port", str(port)]
    environment = {**os.environ, "PEER_MODEL": str(model_file), "BENTOML_DO_NOT_TRACK": "True"}
    return Server(command, port, folder, environment, log_dir / f"bentoml-{port}.log")


V2_BODY = json.dumps({"inputs": [{"name": "predict", "shape": [2, 10], "datatype": "FP64",
                                  "data": [value for row in ROWS for value in row]}]})  # fmt: skip
PEERS = (
    Peer("MLServer (sklearn runtime, V2 REST)", ("mlserver", "mlserver-sklearn"), "/v2/models/ridge/infer",
         V2_BODY, "/v2/health/ready", _mlserver),
    Peer("BentoML (service calling predict)", ("bentoml",), "/predict", json.dumps({"data": ROWS}), "/readyz",
         _bentoml),
)  # fmt: skip


def peer_bin(peer: Peer) -> Path:
    """The bin folder of ``peer``'s venv, created on first use (then cached); RuntimeError naming why it failed."""
    requirements = [*peer.requirements, *(f"{name}=={version(name)}" for name in SHARED_LIBRARIES)]
    return cached_venv(f"peer-{peer.requirements[0]}", requirements) / "bin"

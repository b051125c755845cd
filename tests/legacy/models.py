"""Models as older libraries saved them, made here with today's libraries (old ones do not install on this
Python): what differs in their pickles is written the way the old version wrote it."""

import pickle
import subprocess
import sys
import types
from pathlib import Path

MODEL_FILE = "model.pkl"
OLD_SKLEARN = "0.23.2"
TORCH_MODEL = """
import sys
import torch

torch.manual_seed(0)
model = torch.nn.Sequential(torch.nn.Linear(10, 4), torch.nn.ReLU(), torch.nn.Linear(4, 1))
torch.save(model, sys.argv[1])  # the whole model, pickled: what torch.load(path) loaded before torch 2.6
"""


def _diabetes_fit(estimator):  # type: ignore[no-untyped-def]
    from sklearn.datasets import load_diabetes

    features, target = load_diabetes(return_X_y=True)
    return estimator.fit(features, target)


def old_module_pickle(folder: Path) -> Path:
    """A LinearRegression pickled as scikit-learn before 0.24 did: its class in ``sklearn.linear_model.base``."""
    from sklearn.linear_model import LinearRegression

    model = _diabetes_fit(LinearRegression())
    stand_in = types.ModuleType("sklearn.linear_model.base")
    stand_in.LinearRegression = LinearRegression  # type: ignore[attr-defined]
    sys.modules[stand_in.__name__] = stand_in
    LinearRegression.__module__ = stand_in.__name__
    try:
        data = pickle.dumps(model)
    finally:
        LinearRegression.__module__ = "sklearn.linear_model._base"
        del sys.modules[stand_in.__name__]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MODEL_FILE).write_bytes(data)
    return folder / MODEL_FILE


def old_version_pickle(folder: Path) -> Path:
    """A Ridge pickled by scikit-learn 0.23.2: that version in its state, and no n_features_in_ (added in 0.24)."""
    import joblib
    import sklearn.base
    from sklearn.linear_model import Ridge

    model = _diabetes_fit(Ridge(alpha=1.0))
    del model.n_features_in_
    current, sklearn.base.__version__ = sklearn.base.__version__, OLD_SKLEARN
    try:
        folder.mkdir(parents=True, exist_ok=True)
        joblib.dump(model, folder / MODEL_FILE)
    finally:
        sklearn.base.__version__ = current
    return folder / MODEL_FILE


def torch_full_model(python: Path, folder: Path) -> Path:
    """A whole torch.nn model saved with torch.save (by ``python``, an interpreter with torch)."""
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run([str(python), "-c", TORCH_MODEL, str(folder / "model.pt")], check=True)
    return folder / "model.pt"

"""Models as older libraries saved them, made here with today's libraries (old ones do not install on this
Python): what differs in their pickles is written the way the old version wrote it."""

import pickle
import subprocess
import sys
import types
from collections.abc import Callable
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


def _pickled_as_in(module: str, cls: type, obj: object, dump: Callable[[object, Path], object], path: Path) -> Path:
    """``dump(obj, path)`` with ``cls`` named as living in ``module``, where an older library kept it."""
    stand_in = types.ModuleType(module)
    setattr(stand_in, cls.__name__, cls)
    sys.modules[module], (own, cls.__module__) = stand_in, (cls.__module__, module)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        dump(obj, path)
    finally:
        cls.__module__ = own
        del sys.modules[module]
    return path


def old_module_pickle(folder: Path) -> Path:
    """A LinearRegression pickled as scikit-learn before 0.24 did: its class in ``sklearn.linear_model.base``."""
    from sklearn.linear_model import LinearRegression

    model = _diabetes_fit(LinearRegression())
    return _pickled_as_in("sklearn.linear_model.base", LinearRegression, model, _pickle, folder / MODEL_FILE)


def old_joblib_pickle(folder: Path) -> Path:
    """A Ridge saved with ``sklearn.externals.joblib.dump`` (scikit-learn < 0.23): its arrays' wrapper class is
    named ``sklearn.externals.joblib.numpy_pickle.NumpyArrayWrapper``."""
    import joblib
    from joblib.numpy_pickle import NumpyArrayWrapper
    from sklearn.linear_model import Ridge

    model = _diabetes_fit(Ridge(alpha=1.0))
    module = "sklearn.externals.joblib.numpy_pickle"
    return _pickled_as_in(module, NumpyArrayWrapper, model, joblib.dump, folder / MODEL_FILE)


def _pickle(obj: object, path: Path) -> None:
    path.write_bytes(pickle.dumps(obj))


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

"""Train the demo model (Ridge regression on scikit-learn's bundled diabetes data) into a v1 app root.

Usage: python train.py APP_ROOT  ->  APP_ROOT/azureml-models/diabetes/1/model.pkl
"""

import sys
from pathlib import Path

import joblib
from sklearn.datasets import load_diabetes
from sklearn.linear_model import Ridge


def main() -> None:
    target = Path(sys.argv[1]) / "azureml-models" / "diabetes" / "1" / "model.pkl"
    target.parent.mkdir(parents=True, exist_ok=True)
    features, labels = load_diabetes(return_X_y=True)
    joblib.dump(Ridge(alpha=1.0).fit(features, labels), target)
    print(f"model written to {target}")


if __name__ == "__main__":
    main()

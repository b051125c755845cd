# An Azure ML v1 scoring script, exactly as written for Azure: it runs unchanged under mldeploy.
import json
import os

import joblib
import numpy as np

model = None


def init():
    global model
    model_path = os.path.join(os.getenv("AZUREML_MODEL_DIR"), "model.pkl")
    model = joblib.load(model_path)


def run(input_data):
    try:
        data = json.loads(input_data)["data"]
        data = np.array(data)
        result = model.predict(data)
        return json.dumps({"result": result.tolist()})
    except Exception as e:
        result = str(e)
        return json.dumps({"error": result})

import os

import numpy as np
from inference_schema.parameter_types.numpy_parameter_type import NumpyParameterType
from inference_schema.schema_decorators import input_schema, output_schema

scale = 1.0


def init():
    global scale
    with open(os.path.join(os.environ["AZUREML_MODEL_DIR"], "scale.txt")) as file:
        scale = float(file.read())


@input_schema("data", NumpyParameterType(np.array([[1.0, 2.0, 3.0]])))
@output_schema(NumpyParameterType(np.array([6.0])))
def run(data):
    return (data.sum(axis=1) * scale).tolist()

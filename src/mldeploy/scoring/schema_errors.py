"""Tell a client's bad input apart from a bug in run() when an inference-schema decorated run() raises.

The reference answers 500 for both. When the exception was raised while inference-schema converted an
argument (``_deserialize_input_argument``) and never reached the user's own function, the client sent a
value of the wrong type: we answer 400 and name the field and the type the schema expects.
"""

import types
from typing import Any

CONVERSION_FUNCTION = "_deserialize_input_argument"


def _expected(param_type: Any) -> str:
    kind = type(param_type).__name__
    sample = getattr(param_type, "sample_input", None)
    dtype = getattr(sample, "dtype", None)
    shape = getattr(sample, "shape", None)
    if kind == "PandasParameterType" and sample is not None:
        columns = ", ".join(f"{name}: {sample[name].dtype}" for name in sample.columns)
        return f"a table (pandas DataFrame) with columns {{{columns}}}"
    if dtype is not None and shape is not None:
        return f"an array (numpy) of {dtype} with shape {tuple(shape)}"
    if sample is not None:
        return f"a {type(sample).__name__} like {sample!r}"[:200]
    return kind


def conversion_error_message(error: BaseException, user_code: types.CodeType) -> str | None:
    """The 400 message when ``error`` came from converting an input, or None when run() itself raised."""
    outermost: types.FrameType | None = None
    traceback = error.__traceback__
    while traceback is not None:
        frame = traceback.tb_frame
        if frame.f_code is user_code:
            return None
        if outermost is None and frame.f_code.co_name == CONVERSION_FUNCTION:
            outermost = frame
        traceback = traceback.tb_next
    if outermost is None:
        return None
    name = outermost.f_locals.get("param_name", "?")
    expected = _expected(outermost.f_locals.get("param_type"))
    return f"Invalid value for {name!r}: expected {expected}. {type(error).__name__}: {error}"

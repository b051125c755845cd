"""Plain-words reports for a scoring script that cannot start: where it failed, why, and the fix."""

import os
import sys
import traceback
from typing import Any

from . import environment_check, legacy
from .script import ScriptError
from .shim.model import ModelNotFoundError, model_tree_lines

AGAIN = "deploy again (the environment is built again with it)"
STAGES = {
    "import": "Loading the scoring script",
    "check": "Checking the scoring script",
    "init": "init()",
}


def _user_frame(error: BaseException, entry_script: str) -> traceback.FrameSummary | None:
    """The innermost frame in the user's own code (not the standard library nor an installed package)."""
    frames = traceback.extract_tb(error.__traceback__)
    if isinstance(error, SyntaxError) and error.filename:
        return traceback.FrameSummary(error.filename, error.lineno or 0, "<module>", line=error.text)
    user_root = os.path.dirname(entry_script)
    for frame in reversed(frames):
        if not os.path.isabs(frame.filename):  # frozen ("<frozen posixpath>") or compiled ("sklearn/x.pyx") code
            continue  # would resolve inside the app root
        filename = os.path.realpath(frame.filename)
        if filename.startswith(user_root) and "site-packages" not in filename:
            return frame
    return frames[-1] if frames else None


def environment_fault(error: BaseException) -> dict[str, Any] | None:
    """What the environment did wrong when ``error`` is its fault, not the script's: raised inside an installed
    package by an import or a binary incompatibility (a package compiled against another version of its
    dependency, a missing system library). A module that is not installed at all keeps its own fix."""
    frames = traceback.extract_tb(error.__traceback__)
    if not frames or isinstance(error, ModuleNotFoundError):
        return None
    if environment_check.distribution_of(frames[-1].filename) is None:
        return None
    found = environment_check.fault(error)
    return found if isinstance(error, ImportError) or found["binary"] else None


def _fix(error: BaseException) -> str:
    if isinstance(error, ModelNotFoundError):
        return "Fix: use the model name shown in the model folder above, or deploy the model under that name."
    if isinstance(error, ModuleNotFoundError):  # a module that an installed package does not have
        top = str(error.name).partition(".")[0]
        return (
            f"Fix: the installed {top} has no module {error.name!r}: pin the version of {top} that the script "
            "was written for in the environment (the conda file's pip section or the pip requirements), or "
            "import it from where this version has it."
        )
    if isinstance(error, FileNotFoundError):
        model_dir = os.environ.get("AZUREML_MODEL_DIR")
        lines = [
            f"Fix: the script opened a path that does not exist. Paths are relative to the app root {os.getcwd()}; "
            "build model paths from AZUREML_MODEL_DIR or Model.get_model_path(name)."
        ]
        if model_dir and os.path.isdir(model_dir):
            lines.append(f"AZUREML_MODEL_DIR={model_dir} holds:")
            lines.extend(model_tree_lines(model_dir))
        else:
            lines.append(f"AZUREML_MODEL_DIR is {model_dir!r}, which is not a folder here.")
        return "\n".join(lines)
    if isinstance(error, MemoryError):
        return "Fix: the worker ran out of memory while loading; give the deployment more memory (memory_gb)."
    return "Fix: correct the error above in the script, then reload or deploy again."


def permanent(error: BaseException, breakage: legacy.Breakage | None) -> bool:
    """True when every try fails the same way, so trying init() again is pointless: score.py does not compile or
    import, does not fit the scoring contract, or meets a legacy breakage (the same code, packages and model
    files give the same error). Anything else (a file not there yet, a service not answering, memory) may pass."""
    return breakage is not None or isinstance(error, SyntaxError | ImportError | ScriptError)


def _cause_and_fix(error: BaseException, breakage: legacy.Breakage | None) -> tuple[str, str]:
    """The sentence that names the cause (empty when the error says it all) and the fix."""
    if breakage is not None:
        return breakage.cause, breakage.fix
    fault = environment_fault(error)
    advice = legacy.version_advice()
    if fault is None and advice and not isinstance(error, FileNotFoundError | MemoryError | ModelNotFoundError):
        return "", f"Fix: the model is older than the scikit-learn here: {' '.join(advice)}"
    if fault is None:
        return "", _fix(error)
    cause = f"The environment is at fault, not the script: {environment_check.cause(fault)}"
    return cause, environment_check.fix(fault, then=AGAIN)


def describe(stage: str, error: BaseException, entry_script: str) -> dict[str, Any]:
    """A report the front prints before it gives up: summary lines, the fix, and the full traceback."""
    frame = _user_frame(error, entry_script)
    what = f"{type(error).__name__}: {error}".rstrip(": ")
    where = f"{frame.filename}, line {frame.lineno}, in {frame.name}" if frame else entry_script
    summary = [f"{STAGES.get(stage, stage)} failed in {where}", f"  {frame.line}" if frame and frame.line else "", what]
    breakage = legacy.diagnose(error, f"{os.path.basename(frame.filename)}, line {frame.lineno}" if frame else where)
    cause, fix = _cause_and_fix(error, breakage)
    summary += [cause, *(f"Model version: {advice}" for advice in legacy.version_advice() if advice not in fix)]
    return {
        "stage": stage,
        "summary": [line for line in summary if line],
        "fix": fix,
        "permanent": permanent(error, breakage),
        "legacy": None if breakage is None else {"name": breakage.name, "compat_serves": breakage.compat_serves},
        "traceback": "".join(traceback.format_exception(error)),
        "exception": type(error).__name__,
        "file": frame.filename if frame else entry_script,
        "line": frame.lineno if frame else 0,
        "python": sys.executable,
    }

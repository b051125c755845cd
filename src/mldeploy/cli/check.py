"""``mldeploy check score.py``: run init() once in a worker, in the environment the files describe, and say
whether the script would serve (its run() input style and schema) or why not, with the fix and whether
``--legacy-compat`` would make it serve."""

import dataclasses
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from typing import Annotated, Any

import typer

from ..scoring import protocol
from ..scoring.config import ConfigError, ServerConfig, build_config
from .deploy import CondaOption, PipOption
from .env import build_with_progress
from .env import load as load_environment
from .output import EXIT_FAILED, fail, out

STYLES = {
    "text": "the request body as a str: run(raw_data)",
    "schema": "the JSON body's keys as keyword arguments (inference-schema)",
    "raw": "the HTTP request itself (@rawhttp)",
}
LOG_TAIL = 12


@dataclass
class Outcome:
    ready: bool
    payload: dict[str, Any]  # the worker's "ready" info or its init-failure report
    seconds: float
    log: str


def run_init(config: ServerConfig, timeout_s: float) -> Outcome:
    """Start one worker as the server would (same environment variables, interpreter and app root), wait for
    its first message (ready, or the init failure report), then let it go."""
    front, worker_end = socket.socketpair()
    environment = {**config.worker_environment(), "MLDEPLOY_FRONT_PID": str(os.getpid())}
    python = config.python or sys.executable
    started = time.monotonic()
    with tempfile.TemporaryFile() as log, front, worker_end:
        process = subprocess.Popen(
            [python, "-m", "mldeploy.scoring.worker", str(worker_end.fileno())], pass_fds=[worker_end.fileno()],
            env=environment, cwd=config.app_root, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        worker_end.close()
        front.settimeout(timeout_s)
        try:
            message = _first_message(front)
        except TimeoutError:
            message = None
            process.kill()
        front.close()  # the worker's request loop ends: it exits
        returncode = process.wait()
        seconds = time.monotonic() - started
        log.seek(0)
        text = log.read().decode(errors="replace")
    if message is None:
        why = f"init() did not finish within {timeout_s:g} s" if returncode < 0 else f"exited with code {returncode}"
        report = {"summary": [f"The worker {why} before reporting."], "fix": "Fix: read the worker's log above."}
        return Outcome(False, report, seconds, text)
    kind, payload = message
    return Outcome(kind == protocol.READY, payload, seconds, text)


def _first_message(channel: socket.socket) -> tuple[str, dict[str, Any]] | None:
    reader = channel.makefile("rb", buffering=0)
    header = reader.read(protocol.HEADER_SIZE)
    if len(header) < protocol.HEADER_SIZE:
        return None
    (size,) = protocol.HEADER.unpack(header)
    kind, payload = protocol.decode(reader.read(size))
    return str(kind), dict(payload)


def input_schema(info: dict[str, Any]) -> Any:
    """The input schema of the script's swagger document (None when run() has no schema)."""
    document = info.get("swagger", {}).get("2")
    if not document:
        return None
    return json.loads(document).get("definitions", {}).get("ServiceInput")


def _say_ready(script: str, outcome: Outcome) -> None:
    info = outcome.payload
    out.print(f"ready: {script} (worker ready in {outcome.seconds:.1f} s)", highlight=False, markup=False)
    style = str(info.get("style", "text"))
    out.print(f"run() input: {STYLES.get(style, style)}", highlight=False, markup=False)
    schema = input_schema(info) if style == "schema" else None
    if schema is not None:
        out.print(f"input schema: {json.dumps(schema)}", highlight=False, markup=False)
    legacy = info.get("legacy") or {}
    if legacy.get("shims"):
        out.print(f"served with legacy shims: {', '.join(legacy['shims'])}", highlight=False, markup=False)
    for advice in legacy.get("versions", []):
        out.print(f"model version: {advice}", highlight=False, markup=False)


def _say_failed(script: str, outcome: Outcome, with_compat: Outcome | None, model_given: bool) -> None:
    from ..targets.base import fails_on_missing_model_folder  # loads the registry's layer: not at CLI start

    report = outcome.payload
    out.print(f"fails: {script}", highlight=False, markup=False)
    for line in [*report.get("summary", []), *str(report.get("fix", "")).splitlines()]:
        out.print(line, highlight=False, markup=False)
    if not report.get("exception"):  # no report from the worker: its last log lines say what happened
        for line in outcome.log.strip().splitlines()[-LOG_TAIL:]:
            out.print(f"  {line}", highlight=False, markup=False)
    if with_compat is None:
        return
    if with_compat.ready:
        shims = ", ".join(with_compat.payload.get("legacy", {}).get("shims", [])) or "none"
        verdict = f"yes: with it, init() finishes (shims used: {shims})"
    elif not model_given and fails_on_missing_model_folder(with_compat.payload):
        verdict = (
            "likely: with it, the script loads and init() goes on to read its model, which needs a model folder "
            "(AZUREML_MODEL_DIR is not set): check again with --model-dir DIR --legacy-compat"
        )
    else:
        verdict = f"no: with it, init() still fails: {' '.join(with_compat.payload.get('summary', [])[-1:])}"
    out.print(f"--legacy-compat would make it serve: {verdict}", highlight=False, markup=False)


def check(
    ctx: typer.Context,
    entry_script: Annotated[str, typer.Argument(metavar="SCRIPT", help="The scoring script (score.py).")],
    model_dir: Annotated[
        str | None, typer.Option(help="The model folder, set as AZUREML_MODEL_DIR (relative to the current folder).")
    ] = None,
    conda_file: CondaOption = None,
    pip_requirements: PipOption = None,
    legacy_compat: Annotated[
        bool, typer.Option("--legacy-compat", help="Run init() with the legacy shims on.")
    ] = False,
    timeout_s: Annotated[float, typer.Option(min=1, help="Longest time init() may take.")] = 300,
) -> None:
    """Run init() of SCRIPT once, in the environment the files describe (built or reused; without one, this
    Python), and say whether it would serve, or why not and the fix. Exit code 0 ready, 1 fails."""
    try:
        config = build_config(entry_script, model_dir=model_dir, legacy_compat=legacy_compat)
    except ConfigError as error:
        fail(str(error))
    if conda_file or pip_requirements:
        environment = load_environment(None, conda_file, pip_requirements, "check-env")
        from ..environments.venv import python_of

        config = dataclasses.replace(config, python=str(python_of(build_with_progress(environment, ctx))))
    outcome = run_init(config, timeout_s)
    name = os.path.basename(config.entry_script)
    if outcome.ready:
        _say_ready(name, outcome)
        return
    with_compat = None
    if not config.legacy_compat and (outcome.payload.get("legacy") or {}).get("compat_serves"):
        with_compat = run_init(dataclasses.replace(config, legacy_compat=True), timeout_s)
    _say_failed(name, outcome, with_compat, model_given=model_dir is not None)
    raise typer.Exit(EXIT_FAILED)

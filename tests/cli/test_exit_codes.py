"""Every command, given bad input or a name that does not exist, exits as the README says (2 bad input,
3 not found, 1 the deployment or request failed), in one message without a traceback, and in the CLI's own
words: commands and flags, never a Python call (``Model.deploy(..., overwrite=True)``, ``get_logs()``)."""

import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from subprocess import CompletedProcess

import pytest

from tests.cli.cluster_diagnoses import SEPARATOR
from tests.cli.conftest import Project, mldeploy

BAD_INPUT, NOT_FOUND, FAILED = 2, 3, 1


@dataclass(frozen=True)
class Case:
    args: tuple[str, ...]
    code: int
    says: str = ""  # a piece of the message on stderr, said once


CASES = {
    "serve: missing script": Case(("serve", "nope.py"), BAD_INPUT, "nope.py"),
    "serve: bad port": Case(("serve", "echo.py", "--port", "99999"), BAD_INPUT, "99999"),
    "serve: missing key file": Case(
        ("serve", "echo.py", "--auth-key-file", "nope"), BAD_INPUT, "Cannot read the key file"
    ),
    "model register: missing path": Case(("model", "register", "nope.pkl", "--name", "m"), BAD_INPUT),
    "model register: bad name": Case(("model", "register", "model.pkl", "--name", "bad name!"), BAD_INPUT),
    "model register: bad tag": Case(("model", "register", "model.pkl", "--name", "m", "--tag", "x"), BAD_INPUT),
    "model list: bad format": Case(("model", "list", "-o", "xml"), BAD_INPUT),
    "model show: not found": Case(("model", "show", "nope"), NOT_FOUND, "nope"),
    "model show: bad version": Case(("model", "show", "churn:x"), BAD_INPUT, "must be a number"),
    "model show: no such version": Case(("model", "show", "churn:9"), NOT_FOUND),
    "model download: not found": Case(("model", "download", "nope", "out"), NOT_FOUND),
    "model download: files exist": Case(("model", "download", "churn", "."), BAD_INPUT, "--overwrite"),
    "model delete: no version": Case(("model", "delete", "churn"), BAD_INPUT, "churn:1"),
    "model delete: not found": Case(("model", "delete", "nope:1"), NOT_FOUND),
    "model delete: in use": Case(("model", "delete", "churn:1"), BAD_INPUT, "mldeploy model delete churn:1 --force"),
    "env build: no file": Case(("env", "build", "--name", "e"), BAD_INPUT, "--conda-file"),
    "env build: missing file": Case(("env", "build", "--name", "e", "--conda-file", "nope.yml"), BAD_INPUT),
    "env build: no name": Case(("env", "build", "--pip-requirements", "env.yml"), BAD_INPUT, "--name NAME"),
    "env build: bad name": Case(("env", "build", "--name", "bad name!", "--conda-file", "env.yml"), BAD_INPUT),
    "env list: bad format": Case(("env", "list", "-o", "xml"), BAD_INPUT),
    "env show: not found": Case(("env", "show", "nope"), NOT_FOUND),
    "service list: bad format": Case(("service", "list", "-o", "xml"), BAD_INPUT),
    "service show: bad name": Case(("service", "show", "Bad_Name"), BAD_INPUT, "not valid"),
    **{
        f"service {command}: not found": Case(("service", command, "nope"), NOT_FOUND, "No service 'nope'")
        for command in ("show", "logs", "run", "reload", "update", "keys", "delete", "diagnose")
    },
    "service start: no name": Case(("service", "start"), BAD_INPUT, "--all"),
    "service start: a name and --all": Case(("service", "start", "echo-svc", "--all"), BAD_INPUT, "--all"),
    "service logs: bad tail": Case(("service", "logs", "echo-svc", "--tail", "0"), BAD_INPUT),
    "service run: run() raised": Case(("service", "run", "boom-svc", '"hi"'), FAILED, "mldeploy service logs boom-svc"),
    "service update: --cpu -1": Case(("service", "update", "echo-svc", "--cpu", "-1"), BAD_INPUT, "--cpu -1"),
    "service update: memory of a local service": Case(("service", "update", "echo-svc", "--memory", "1"), BAD_INPUT),
    "service update: missing script": Case(("service", "update", "echo-svc", "--entry-script", "nope.py"), BAD_INPUT),
    "service update: unknown model": Case(("service", "update", "echo-svc", "--model", "nope"), NOT_FOUND),
    "service keys: --regen foo": Case(("service", "keys", "echo-svc", "--regen", "foo"), BAD_INPUT, "foo"),
    "service keys: no auth": Case(("service", "keys", "echo-svc"), FAILED, "has no keys"),
    "deploy: no entry script": Case(("deploy", "new-svc"), BAD_INPUT, "--entry-script"),
    "deploy: missing entry script": Case(("deploy", "new-svc", "--entry-script", "nope.py"), BAD_INPUT, "nope.py"),
    "deploy: invalid name": Case(("deploy", "Bad_Name", "--entry-script", "echo.py"), BAD_INPUT, "Bad_Name"),
    "deploy: --cpu -1": Case(
        ("deploy", "new-svc", "--entry-script", "echo.py", "--target", "docker", "--cpu", "-1"), BAD_INPUT, "--cpu -1"
    ),
    "deploy: --memory locally": Case(("deploy", "new-svc", "--entry-script", "echo.py", "--memory", "1"), BAD_INPUT),
    "deploy: --export locally": Case(("deploy", "new-svc", "--entry-script", "echo.py", "--export", "k8s"), BAD_INPUT),
    "deploy: bad target": Case(("deploy", "new-svc", "--entry-script", "echo.py", "--target", "moon"), BAD_INPUT),
    "deploy: two environments": Case(
        ("deploy", "new-svc", "--entry-script", "echo.py", "--conda-file", "env.yml", "--pip-requirements", "env.yml"),
        BAD_INPUT,
    ),
    "deploy: unknown model": Case(("deploy", "new-svc", "--entry-script", "echo.py", "-m", "nope"), NOT_FOUND),
    "deploy: name taken": Case(("deploy", "echo-svc", "--entry-script", "echo.py"), FAILED, "--overwrite"),
    "deploy: init() fails": Case(
        ("deploy", "init-fails", "--entry-script", "init_raises.py"), FAILED, "Service 'init-fails' failed to start."
    ),
    "package: no entry script": Case(("package", "-m", "churn"), BAD_INPUT, "--entry-script"),
    "package: unknown model": Case(("package", "-m", "nope", "--entry-script", "echo.py"), NOT_FOUND),
    "plan: negative time": Case(("plan", "--target-rps", "5", "--request-time", "-1"), BAD_INPUT, "--request-time"),
    "plan: negative rate": Case(("plan", "--target-rps", "-5", "--request-time", "1"), BAD_INPUT, "--target-rps"),
    "plan: unknown load": Case(
        ("plan", "--target-rps", "5", "--request-time", "1", "--load", "tsunami"), BAD_INPUT, "steady, ramp, spike"
    ),
    "plan: plot folder missing": Case(
        ("plan", "--target-rps", "5", "--request-time", "1", "--load", "spike", "--plot", "no/such/folder/p.png"),
        BAD_INPUT,
        "cannot be written",
    ),
    "plan: plot format": Case(
        ("plan", "--target-rps", "5", "--request-time", "1", "--load", "spike", "--plot", "p.xyz"),
        BAD_INPUT,
        "cannot write 'xyz'",
    ),
    "diagnose: not found": Case(("diagnose", "nope"), NOT_FOUND, "No service 'nope'"),
}

# What a Python reader types, never a CLI user: calls, keyword arguments and the API's names. Allowed: the
# scoring script's own init(), run() and Model.get_model_path(), which the user writes in score.py.
ALLOWED = re.compile(r"\b(init|run)\(\)|\bModel\.get_model_path\([^()\n]*\)|\(s\)")  # (s): a plural
CALL = re.compile(r"\b[A-Za-z_][\w.]*\([^()\n]*\)")
KEYWORD = re.compile(r"\b[a-z]+_[a-z_]+=|\w=(True|False|None)\b")
API_NAMES = re.compile(r"InferenceConfig|deploy_configuration|get_logs|exist_ok|regen_key|wait_for_deployment|"
                       r"Model\.\w|ws\.\w|Webservice\b")  # fmt: skip
SOURCE_LINE = re.compile(r"line \d+, in \S+")  # the next line of a traceback quotes the user's code


def python_in(output: str) -> list[str]:
    """The Python calls, arguments and API names in ``output``, outside the code lines tracebacks quote."""
    lines = output.splitlines()
    said = [ALLOWED.sub("", line) for previous, line in zip(["", *lines], lines, strict=False)
            if not SOURCE_LINE.search(previous) and not line.startswith("    ")]  # fmt: skip
    return [
        match.group(0) for line in said for pattern in (CALL, KEYWORD, API_NAMES) for match in pattern.finditer(line)
    ]


@pytest.fixture(scope="module")
def outcomes(project: Project) -> dict[str, CompletedProcess[str]]:
    """Every case run once, a few at a time."""
    with ThreadPoolExecutor(4) as pool:
        ran = dict(zip(CASES, pool.map(lambda case: mldeploy(project, *case.args), CASES.values()), strict=True))
    mldeploy(project, "service", "delete", "init-fails")
    return ran


@pytest.mark.parametrize("name", CASES)
def test_exit_code_message_and_words(name: str, outcomes: dict[str, CompletedProcess[str]]) -> None:
    case, ran = CASES[name], outcomes[name]
    assert ran.returncode == case.code, ran.stderr
    if case.says:
        assert ran.stderr.count(case.says) == 1, ran.stderr
    assert "Traceback (most recent call last)" not in ran.stderr.split("Traceback (last lines):")[0]
    assert python_in(ran.stdout + ran.stderr) == [], ran.stderr


def test_the_scanner_finds_python_calls() -> None:
    python = ["Pass overwrite=True to replace it", "delete it first (ws.webservices['x'].delete())",
              "See service.get_logs().", "InferenceConfig(entry_script=...) is relative",
              "Update it with deployment_config=AciWebservice.deploy_configuration(auth_enabled=True)."]  # fmt: skip
    assert [text for text in python if not python_in(text)] == []
    assert python_in("init() failed in s.py, line 2, in init\n  raise ValueError('x')\nrun() raised it.") == []
    assert python_in("Traceback (last lines):\n    script.init()\nUse Model.get_model_path(name).") == []


def test_kubernetes_diagnoses_speak_cli() -> None:
    """Each failure mode `mldeploy diagnose` explains on Kubernetes (no cluster here: the diagnosis of realistic
    cluster objects, rendered by a process in CLI wording)."""
    rendered = subprocess.run([sys.executable, "-m", "tests.cli.cluster_diagnoses"], capture_output=True, text=True,
                              check=True, cwd=Path(__file__).parents[2]).stdout  # fmt: skip
    diagnoses = rendered.split(SEPARATOR)
    assert len(diagnoses) >= 5
    assert [python_in(text) for text in diagnoses] == [[]] * len(diagnoses), rendered

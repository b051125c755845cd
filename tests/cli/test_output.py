"""What the command line prints for scripts and logs: whole lines in a narrow pipe, one progress line per step,
--workspace after the subcommand, the request body from standard input, environments named by their file."""

import contextlib
import json
import os
import pty
import re
import signal
import subprocess
import sys
import time

from tests.cli.conftest import Project, mldeploy
from tests.cli.test_exit_codes import python_in

NARROW = {"COLUMNS": "40"}
PROGRESS = re.compile(r"^\[\s*\d+\.\d s\] (?P<step>.+)$", re.MULTILINE)


def test_tables_and_help_keep_whole_lines_in_a_narrow_pipe(project: Project) -> None:
    uri = json.loads(mldeploy(project, "service", "show", "echo-svc", "-o", "json").stdout)[0]["scoringUri"]
    table = mldeploy(project, "service", "list", env=NARROW).stdout
    assert any("echo-svc" in line and uri in line for line in table.splitlines()), table
    plain = mldeploy(project, "service", "list", "-o", "plain", env=NARROW).stdout.splitlines()
    assert plain[0].split("\t") == ["name", "computeType", "state", "scoringUri", "models", "environment"]
    assert ["echo-svc", "Local", "Healthy", uri, "churn:1", ""] in [line.split("\t") for line in plain]
    shown = mldeploy(project, "model", "show", "churn", env=NARROW).stdout
    assert re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", shown), "the whole date, in one piece"
    help_text = mldeploy(project, "package", "--help", env=NARROW).stdout
    assert "or write a context that `docker build --network host` takes as is." in help_text
    assert re.search(r"--entry-script \S*\s+The scoring script \(relative to --source-dir if given\)\.", help_text)


def test_workspace_may_follow_the_subcommand(project: Project) -> None:
    elsewhere = Project(project.home.parent / "elsewhere", project.folder)
    listed = mldeploy(elsewhere, "service", "list", "--workspace", str(project.home), "-o", "json")
    assert [row["name"] for row in json.loads(listed.stdout)] == ["boom-svc", "echo-svc"]
    shown = mldeploy(elsewhere, "model", "show", "churn", f"--workspace={project.home}", "-o", "json")
    assert json.loads(shown.stdout)[0]["id"] == "churn:1"


def test_service_run_reads_standard_input_and_says_so(project: Project) -> None:
    piped = mldeploy(project, "service", "run", "echo-svc", stdin='{"a": 1}')
    assert (piped.returncode, piped.stdout.strip()) == (0, json.dumps('{"a": 1}'))
    assert "Reading the request body from standard input" in piped.stderr
    controller, terminal = os.openpty()
    try:
        refused = mldeploy(project, "service", "run", "echo-svc", stdin=terminal)
    finally:
        os.close(controller)
        os.close(terminal)
    assert refused.returncode == 2 and "pipe it in" in refused.stderr


def test_run_raised_is_named_with_its_last_line_and_the_log_command(project: Project) -> None:
    failed = mldeploy(project, "service", "run", "boom-svc", '"hello"')
    assert failed.returncode == 1
    assert "run() raised ValueError: run() cannot handle" in failed.stderr
    assert "run_raises.py, line 6, in run" in failed.stderr and "mldeploy service logs boom-svc" in failed.stderr


def test_a_deploy_names_its_environment_after_its_file_and_a_refused_one_registers_none(project: Project) -> None:
    (project.folder / "tiny.yml").write_text("name: tiny-env\ndependencies:\n  - python=3.11\n")
    (project.folder / "requirements.txt").write_text("# nothing beyond the scoring runtime\n")
    refused = mldeploy(project, "deploy", "echo-svc", "--entry-script", "echo.py", "--pip-requirements",
                       "requirements.txt")  # fmt: skip
    assert refused.returncode == 1 and "already exists" in refused.stderr  # the name taken: 1 however found
    taken = json.loads(mldeploy(project, "service", "show", "echo-svc", "-o", "json").stdout)[0]["port"]
    port_taken = mldeploy(project, "deploy", "new-svc", "--entry-script", "echo.py", "--pip-requirements",
                          "requirements.txt", "--port", str(taken))  # fmt: skip
    assert port_taken.returncode == 1 and f"Port {taken} is already in use" in port_taken.stderr
    deployed = mldeploy(project, "deploy", "tiny-svc", "--entry-script", "echo.py", "--conda-file", "tiny.yml")
    try:
        assert deployed.returncode == 0, deployed.stderr
        shown = json.loads(mldeploy(project, "service", "show", "tiny-svc", "-o", "json").stdout)[0]
        assert shown["environment"] == "tiny-env:1"
        environments = json.loads(mldeploy(project, "env", "list", "-o", "json").stdout)
        assert [row["name"] for row in environments] == ["tiny-env"], "none left by the refused deploys"
        steps = PROGRESS.findall(deployed.stderr)
        assert any("environment" in step for step in steps) and any("waiting for init()" in step for step in steps)
        assert deployed.stderr.count("Healthy") == 1
    finally:
        mldeploy(project, "service", "delete", "tiny-svc")


def test_a_terminal_shows_the_current_step_with_its_seconds(project: Project) -> None:
    (project.folder / "slow_init.py").write_text("import time\n\n\ndef init():\n    time.sleep(2)\n\n\ndef run(data):\n"
                                                 "    return data\n")  # fmt: skip
    controller, terminal = pty.openpty()
    environment = {**os.environ, "MLDEPLOY_HOME": str(project.home), "TERM": "xterm", "COLUMNS": "200"}
    deploying = subprocess.Popen([sys.executable, "-m", "mldeploy", "deploy", "slow-svc", "--entry-script",
                                  "slow_init.py"], stdout=terminal, stderr=terminal, stdin=subprocess.DEVNULL,
                                 env=environment, cwd=project.folder)  # fmt: skip
    os.close(terminal)
    shown = b""
    with contextlib.suppress(OSError):  # the terminal closes when the command exits
        while chunk := os.read(controller, 65536):
            shown += chunk
    os.close(controller)
    try:
        assert deploying.wait(timeout=120) == 0, shown
        text = shown.decode(errors="replace")
        assert re.search(r"slow-svc: [^\r\n(]+ \(\d+ s\)", text), "a step with the seconds since the deploy began"
        assert re.search(r"waiting for init\(\) \([12] s\)", text), "a step counting its own seconds"
        assert not PROGRESS.search(text.replace("\r", "\n")), "a spinner, not a line per step"
    finally:
        mldeploy(project, "service", "delete", "slow-svc")


def test_a_model_in_use_is_deleted_only_with_force(project: Project) -> None:
    mldeploy(project, "model", "register", "model.pkl", "--name", "spare")
    deployed = mldeploy(project, "deploy", "spare-svc", "-m", "spare:1", "--entry-script", "echo.py")
    try:
        assert deployed.returncode == 0, deployed.stderr
        refused = mldeploy(project, "model", "delete", "spare:1")
        assert refused.returncode == 2 and "spare-svc" in refused.stderr
        forced = mldeploy(project, "model", "delete", "spare:1", "--force")
        assert (forced.returncode, forced.stdout.strip()) == (0, "deleted spare:1")
        assert mldeploy(project, "service", "run", "spare-svc", '"still here"').returncode == 0
    finally:
        mldeploy(project, "service", "delete", "spare-svc")


def _kill_server(project: Project, name: str) -> None:
    """SIGKILL the service's server, as the kernel or a crash would, and wait until it counts as stopped."""
    record = json.loads((project.home / "services" / name / "service.json").read_text())
    os.kill(record["pid"], signal.SIGKILL)
    deadline = time.monotonic() + 30
    while json.loads(mldeploy(project, "service", "show", name, "-o", "json").stdout)[0]["state"] != "Failed":
        assert time.monotonic() < deadline, "the killed server still counts as running"


def test_a_stopped_service_is_started_again_alone_or_with_all(project: Project) -> None:
    assert mldeploy(project, "deploy", "stop-me", "-m", "churn", "--entry-script", "echo.py").returncode == 0
    try:
        _kill_server(project, "stop-me")
        diagnosed = mldeploy(project, "diagnose", "stop-me")
        assert diagnosed.returncode == 1 and "mldeploy service start stop-me" in diagnosed.stdout
        assert python_in(diagnosed.stdout) == []
        unanswered = mldeploy(project, "service", "run", "stop-me", '"anyone?"')
        assert unanswered.returncode == 1 and python_in(unanswered.stderr) == [], unanswered.stderr
        started = mldeploy(project, "service", "start", "stop-me")
        assert (started.returncode, started.stdout.strip()) == (0, "stop-me: started"), started.stderr
        again = mldeploy(project, "service", "start", "stop-me")
        assert (again.returncode, again.stdout.strip()) == (0, "stop-me: running already")
        _kill_server(project, "stop-me")
        every = mldeploy(project, "service", "start", "--all")
        assert (every.returncode, every.stdout) == (0, "stop-me: started\n"), every.stderr
        assert mldeploy(project, "service", "run", "stop-me", '"back"').returncode == 0
    finally:
        mldeploy(project, "service", "delete", "stop-me")

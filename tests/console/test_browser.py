"""The console in a real browser (Debian's Chromium) on a real local service: healthy, a test request from the
form, a chart fed by load, a reload, a failing service's diagnosis, a deleted service, the planner; and no
page without the token. Screenshots go to test-artifacts/console/ (git-ignored)."""

import json
import os
import shutil
import signal
import threading
import time
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect

from mldeploy import AciWebservice, InferenceConfig, Model, WebserviceException, Workspace
from mldeploy.errors import DockerUnavailable
from mldeploy.targets.docker_engine import connect
from mldeploy.workspace.services import ServiceRecord, load, services_root
from tests.console.conftest import Console, screenshot
from tests.support.servers import SCRIPTS

pytestmark = pytest.mark.slow
LOAD_REQUESTS = 400  # sent while the charts sample; bounded, on 127.0.0.1 only
LOAD_SECONDS = 20
SERVER_STARTS_SHOWN = "document.querySelector('#log').textContent.split('Listening on').length - 1"


def test_without_the_token_every_page_and_action_is_refused(console: Console, sums: str) -> None:
    with httpx.Client(base_url=console.base, timeout=10) as client:
        for path in ("/", f"/services/{sums}", f"/services/{sums}/metrics", f"/services/{sums}/keys", "/models"):
            assert client.get(path).status_code == 401, path
            assert client.get(path, params={"token": "wrong"}).status_code == 401, path
        assert client.get("/static/console.js").status_code == 200  # the package's own files: nothing secret
        refused = client.post(f"/services/{sums}/actions/delete")
        assert refused.status_code == 401
        assert "?token=" in refused.text
        assert client.get("/", params={"token": console.token}).status_code == 200
        foreign = client.get("/", params={"token": console.token}, headers={"Host": "attacker.example"})
        assert foreign.status_code == 403
    assert console.process.poll() is None


def test_a_healthy_service_answers_the_test_form(console: Console, sums: str, page) -> None:  # type: ignore[no-untyped-def]
    page.goto(console.url)
    row = page.get_by_role("row").filter(has_text=sums)
    expect(row.get_by_role("status")).to_have_text("Healthy")
    expect(row).to_contain_text("scale:1")
    screenshot(page, "services")
    row.get_by_role("link", name=sums).click()
    field = page.get_by_role("textbox", name="data")
    expect(field).to_have_value("[[1.0, 2.0, 3.0]]")
    field.fill("[[1, 2, 3], [4, 5, 6]]")
    page.get_by_role("button", name="Send request").click()
    answer = page.get_by_role("article", name="Answer")
    expect(answer).to_contain_text("Status 200")
    assert json.loads(page.locator("#answer-body").inner_text()) == [12.0, 30.0]
    field.fill("[[1, 2,")
    page.get_by_role("button", name="Send request").click()
    expect(page.get_by_role("alert")).to_contain_text("The value of 'data' is not JSON")


def _load(scoring_uri: str, stop: threading.Event) -> None:
    deadline = time.monotonic() + LOAD_SECONDS
    with httpx.Client(timeout=10) as client:
        for _ in range(LOAD_REQUESTS):
            if stop.is_set() or time.monotonic() > deadline:
                return
            client.post(scoring_uri, json={"data": [[1.0, 2.0, 3.0]]})
            time.sleep(0.02)


def test_the_charts_gain_points_under_load(console: Console, workspace: Workspace, sums: str, page) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{console.url}".replace("/?", f"/services/{sums}?"))
    requests_chart = page.locator("#chart-requests")
    expect(requests_chart).not_to_have_attribute("data-points", "0")
    before = int(requests_chart.get_attribute("data-points") or 0)
    stop = threading.Event()
    sender = threading.Thread(target=_load, args=(workspace.webservices[sums].scoring_uri, stop))
    sender.start()
    try:
        page.wait_for_function(
            f"Number(document.querySelector('#chart-requests').dataset.points) >= {before + 3}", timeout=20_000
        )
        with httpx.Client(base_url=console.base, timeout=10) as client:
            points = client.get(f"/services/{sums}/metrics", headers={"Authorization": f"token {console.token}"})
        assert any(point["ok_per_s"] > 0 for point in points.json()["points"])
        assert any(point["p50_ms"] for point in points.json()["points"])
    finally:
        stop.set()
        sender.join()
    expect(page.locator("#log")).to_contain_text("Worker with pid")
    screenshot(page, "service-charts")


def test_reload_serves_the_edited_script(console: Console, project: Path, sums: str, page) -> None:  # type: ignore[no-untyped-def]
    script = project / "score.py"
    script.write_text(script.read_text().replace("* scale", "* scale * 10"))
    page.goto(console.url.replace("/?", f"/services/{sums}?"))
    page.get_by_role("button", name="Reload").click()
    expect(page.get_by_role("status").filter(has_text="reloaded")).to_be_visible(timeout=60_000)
    page.get_by_role("button", name="Send request").click()
    expect(page.locator("#answer-body")).to_contain_text("120.0")
    expect(page.locator("#log")).to_contain_text("Reloading: starting 1 new worker(s)")


def test_the_log_follows_the_service_through_a_restart(  # type: ignore[no-untyped-def]
    console: Console, workspace: Workspace, sums: str, page
) -> None:
    page.goto(console.url.replace("/?", f"/services/{sums}?"))
    expect(page.locator("#log")).to_contain_text("mldeploy.access")
    shown = page.evaluate(SERVER_STARTS_SHOWN)
    server = load(workspace.path, sums).pid
    assert server is not None
    os.killpg(os.getpgid(server), signal.SIGKILL)
    expect(page.locator("#status").get_by_role("status")).to_have_text("Failed", timeout=15_000)
    assert workspace.webservices[sums].start()
    expect(page.locator("#status").get_by_role("status")).to_have_text("Healthy", timeout=15_000)
    page.wait_for_function(f"{SERVER_STARTS_SHOWN} > {shown}")


def test_a_container_service_keys_are_masked_revealed_and_regenerated(  # type: ignore[no-untyped-def]
    console: Console, workspace: Workspace, project: Path, page
) -> None:
    try:
        connect()
    except DockerUnavailable as reason:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"no Docker engine: {reason}")
    shutil.copy(SCRIPTS / "echo.py", project / "echo.py")
    settings = AciWebservice.deploy_configuration(cpu_cores=0.5, memory_gb=0.5, auth_enabled=True)
    service = Model.deploy(workspace, "keyed", [], InferenceConfig(entry_script=str(project / "echo.py")), settings)
    service.wait_for_deployment()
    primary, _ = service.get_keys()
    page.goto(console.url.replace("/?", "/services/keyed?"))
    expect(page.locator("#curl")).to_contain_text('-H "Authorization: Bearer $KEY"')
    expect(page.locator("body")).not_to_contain_text(primary)
    page.get_by_role("button", name="Reveal keys").click()
    expect(page.locator("#key-primary")).to_have_text(primary)
    page.get_by_role("textbox", name="Request body").fill('{"hello": "container"}')
    page.get_by_role("button", name="Send request").click()
    expect(page.get_by_role("article", name="Answer")).to_contain_text("Status 200")
    expect(page.locator("#answer-body")).to_contain_text("container")
    page.get_by_role("button", name="Regenerate primary key").click()
    expect(page.get_by_role("status").filter(has_text="new primary key")).to_be_visible(timeout=60_000)
    assert workspace.webservices["keyed"].get_keys()[0] != primary
    screenshot(page, "service-keys")
    service.delete()


def test_a_failing_service_shows_its_diagnosis(console: Console, workspace: Workspace, project: Path, page) -> None:  # type: ignore[no-untyped-def]
    page.goto(console.url)  # open before the service exists: the list shows it by itself
    expect(page.get_by_role("row").filter(has_text="sums")).to_be_visible()
    shutil.copy(SCRIPTS / "init_raises.py", project / "broken.py")
    service = Model.deploy(workspace, "broken", [], InferenceConfig(entry_script=str(project / "broken.py")))
    with pytest.raises(WebserviceException):
        service.wait_for_deployment()
    row = page.get_by_role("row").filter(has_text="broken")
    expect(row.get_by_role("status")).to_have_text("Failed")
    screenshot(page, "services-with-failure")
    row.get_by_role("link", name="FileNotFoundError").click()
    diagnosis = page.locator("#diagnosis")
    expect(diagnosis.get_by_role("heading")).to_have_text("Diagnosis: why broken is Failed")
    expect(diagnosis).to_contain_text("broken.py, line 5, in load_settings")
    expect(diagnosis).to_contain_text("Fix:")
    expect(page.locator("#charts-problem")).to_contain_text("did not answer")
    screenshot(page, "service-failed")


def test_a_target_that_does_not_answer_is_named(console: Console, workspace: Workspace, page) -> None:  # type: ignore[no-untyped-def]
    folder = services_root(workspace.path) / "faraway"
    folder.mkdir(parents=True)
    scoring_url = "https://127.0.0.1:9/api/v1/namespaces/default/services/faraway:http/proxy/score"
    ServiceRecord("faraway", "kubernetes", 0, str(folder), deployment_config={"namespace": "default"},
                  scoring_url=scoring_url).save()  # fmt: skip
    try:
        page.goto(console.url)
        row = page.get_by_role("row").filter(has_text="faraway")
        expect(row.get_by_role("status")).to_have_text("Unhealthy")
        expect(row).to_contain_text("does not answer")
        row.get_by_role("link", name="faraway").click()
        expect(page.locator("#diagnosis")).to_contain_text("Check that the cluster is up and that KUBECONFIG")
        expect(page.locator("#log")).to_contain_text("The log could not be read")
        expect(page.locator("#charts-problem")).to_contain_text("runs on kubernetes")
        screenshot(page, "service-unreachable")
    finally:
        shutil.rmtree(folder)


def test_a_service_deleted_while_its_page_is_open(  # type: ignore[no-untyped-def]
    console: Console, workspace: Workspace, project: Path, page
) -> None:
    shutil.copy(SCRIPTS / "echo.py", project / "doomed.py")
    Model.deploy(
        workspace, "doomed", [], InferenceConfig(entry_script=str(project / "doomed.py"))
    ).wait_for_deployment()
    page.goto(console.url.replace("/?", "/services/doomed?"))
    expect(page.locator("#status").get_by_role("status")).to_have_text("Healthy")
    workspace.webservices["doomed"].delete()
    expect(page.locator("#status")).to_contain_text("deleted while this page was open", timeout=15_000)
    expect(page.locator("#log")).to_contain_text("No service 'doomed'")
    page.get_by_role("button", name="Send request").click()
    expect(page.locator("#answer").get_by_role("alert")).to_contain_text("No service 'doomed'")
    page.goto(console.url.replace("/?", "/services/doomed?"))
    expect(page.get_by_role("alert")).to_contain_text("No service 'doomed' in this workspace")
    page.goto(console.url.replace("/?", "/services/Bad_Name?"))
    expect(page.get_by_role("alert")).to_contain_text("Service name 'Bad_Name' is not valid")


def test_models_environments_and_the_planner(console: Console, sums: str, page) -> None:  # type: ignore[no-untyped-def]
    page.goto(console.url.replace("/?", "/models?"))
    expect(page.get_by_role("row").filter(has_text="scale")).to_contain_text("stage=test")
    page.get_by_role("link", name="Environments").click()
    expect(page.get_by_role("heading", name="Environments")).to_be_visible()
    page.get_by_role("link", name="Plan").click()
    expect(page.locator("#replicas-needed")).to_have_text("Replicas needed: 3")
    expect(page.locator("#plan-chart")).to_have_attribute("data-points", "600")
    page.get_by_role("textbox", name="Requests per second to serve").fill("200")
    page.get_by_role("button", name="Plan").click()
    expect(page.locator("#replicas-needed")).to_have_text("Replicas needed: 29")
    advice = "Removes them: --min-replicas 20 --max-replicas 20"  # as `mldeploy plan` says it
    expect(page.get_by_role("article", name="Plan result")).to_contain_text(advice)
    screenshot(page, "plan")
    page.get_by_role("textbox", name="Maximum replicas").fill("many")
    page.get_by_role("button", name="Plan").click()
    expect(page.get_by_role("alert")).to_contain_text("Maximum replicas: 'many' is not a whole number")


def test_a_narrow_window_keeps_every_column_reachable(console: Console, sums: str, browser) -> None:  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 420, "height": 800})
    page = context.new_page()
    page.goto(console.url.replace("/?", f"/services/{sums}?"))
    expect(page.get_by_role("button", name="Send request")).to_be_visible()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 420
    screenshot(page, "service-narrow")
    context.close()


def test_the_token_stays_out_of_the_address_bar_through_links_reloads_and_new_tabs(  # type: ignore[no-untyped-def]
    console: Console, sums: str, page
) -> None:
    page.goto(console.url)
    assert page.url == console.base + "/"
    page.get_by_role("link", name=sums).click()
    expect(page.locator("#log")).to_contain_text("Listening")
    assert page.url == f"{console.base}/services/{sums}"
    page.reload()  # no token in the address: the page reopens itself with the one kept for this origin
    expect(page.locator("#log")).to_contain_text("Listening")
    assert page.url == f"{console.base}/services/{sums}"
    with page.context.expect_page() as opened:
        page.get_by_role("link", name="Models").click(modifiers=["Control"])
    tab = opened.value
    expect(tab.get_by_role("heading", name="Models")).to_be_visible()
    assert tab.url == f"{console.base}/models"
    page.go_back()
    expect(page.get_by_role("row").filter(has_text=sums).get_by_role("status")).to_have_text("Healthy")
    page.goto(f"{console.base}/models?token=not-this-console-s")  # a link of another page does not log it out
    expect(page.get_by_role("heading", name="Models")).to_be_visible()
    assert page.url == f"{console.base}/models"
    stranger = page.context.browser.new_page()  # a browser that was never given the token
    stranger.goto(f"{console.base}/models")
    expect(stranger.locator("body")).to_contain_text("needs its access token")
    stranger.close()

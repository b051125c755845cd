"""The console's parts on their own: the CLI starts without the web stack, the token gate, the points drawn
from /metrics, the log's new lines, the test form from /swagger.json and the planner's inputs."""

import subprocess
import sys

import anyio
import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from mldeploy.console.access import TokenGate
from mldeploy.console.logs import new_lines
from mldeploy.console.metrics import Scrape, parse, point, quantile
from mldeploy.console.planner import BadPlanInput, plan
from mldeploy.console.scoring_form import BadInput, body_of, from_swagger

METRICS = """\
# TYPE mldeploy_requests counter
mldeploy_requests_total{route="/score",status="200"} 30.0
mldeploy_requests_total{route="/score",status="503"} 4.0
mldeploy_requests_total{route="/",status="200"} 99.0
# TYPE mldeploy_request_duration_seconds histogram
mldeploy_request_duration_seconds_bucket{le="0.01",route="/score"} 10.0
mldeploy_request_duration_seconds_bucket{le="0.1",route="/score"} 34.0
mldeploy_request_duration_seconds_bucket{le="+Inf",route="/score"} 34.0
mldeploy_request_duration_seconds_count{route="/score"} 34.0
mldeploy_request_duration_seconds_sum{route="/score"} 1.0
# TYPE mldeploy_requests_in_flight gauge
mldeploy_requests_in_flight 3.0
# TYPE mldeploy_workers_ready gauge
mldeploy_workers_ready 2.0
# TYPE mldeploy_worker_restarts counter
mldeploy_worker_restarts_total 1.0
"""


def test_the_cli_starts_without_the_web_stack() -> None:
    web = ("uvicorn", "starlette", "jinja2", "multipart", "anyio")
    code = f"import sys, mldeploy.cli; print(sorted(m for m in sys.modules if m.split('.')[0] in {web} "
    code += "or m.startswith('mldeploy.console')))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"


async def _through_the_gate() -> None:
    inner = Starlette(routes=[Route("/", lambda request: PlainTextResponse("inside"), methods=["GET", "POST"])])
    transport = httpx.ASGITransport(TokenGate(inner, "secret"))
    own = {"Origin": "http://127.0.0.1:8899"}
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8899") as client:
        assert (await client.get("/")).status_code == 401
        assert (await client.get("/", headers={"Authorization": "token nope"})).status_code == 401
        assert (await client.get("/", headers={"Authorization": "token secret"})).text == "inside"
        opened = await client.get("/?token=secret&x=1", headers={"Accept": "text/html"})
        assert opened.text == "inside"
        assert "set-cookie" not in opened.headers
        assert opened.headers["x-frame-options"] == "DENY"
        reopening = await client.get("/models", headers={"Accept": "text/html"})
        assert reopening.status_code == 401
        assert 'data-access="refused"' in reopening.text and "/static/access.js" in reopening.text
        assert (await client.post("/?token=secret", headers=own)).status_code == 401  # actions: the header only
        assert (await client.post("/", headers={**own, "Authorization": "token secret"})).text == "inside"
        foreign = await client.post("/", headers={"Origin": "http://127.0.0.1:8898", "Authorization": "token secret"})
        assert foreign.status_code == 403
        cross_site = {"Sec-Fetch-Site": "cross-site", "Authorization": "token secret"}
        assert (await client.post("/", headers=cross_site)).status_code == 403
    async with httpx.AsyncClient(transport=transport, base_url="http://attacker.example:8899") as rebound:
        assert (await rebound.get("/?token=secret")).status_code == 403
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8899") as other_port:
        headers = {"Host": "127.0.0.1:8898", "Authorization": "token secret"}
        assert (await other_port.get("/", headers=headers)).status_code == 403


def test_the_gate_wants_the_token_from_the_console_own_origin_and_a_loopback_host() -> None:
    anyio.run(_through_the_gate)


def test_points_are_rates_and_quantiles_between_two_scrapes() -> None:
    after = parse(METRICS, at=12.0)
    assert after.by_status == {"200": 30.0, "503": 4.0}
    before = Scrape(at=10.0, by_status={"200": 10.0}, buckets={0.01: 10.0, 0.1: 10.0, float("inf"): 10.0})
    drawn = point(before, after)
    assert drawn.ok_per_s == 10.0
    assert drawn.busy_503_per_s == 2.0
    assert drawn.p50_ms == pytest.approx(55.0)  # the 24 new requests all fell between 10 and 100 ms
    assert (drawn.in_flight, drawn.workers_ready, drawn.restarts) == (3.0, 2.0, 1.0)
    assert quantile(0.5, {0.1: 0.0, float("inf"): 0.0}) is None
    restarted = point(after, parse(METRICS.replace("30.0", "5.0"), at=13.0))
    assert restarted.ok_per_s == 5.0  # a counter that went down: the server restarted


def test_only_new_log_lines_are_sent() -> None:
    assert new_lines([], ["a", "b"]) == (["a", "b"], False)
    assert new_lines(["a", "b", "c"], ["b", "c", "d", "e"]) == (["d", "e"], False)
    assert new_lines(["a", "b"], ["a", "b"]) == ([], False)
    assert new_lines(["a", "b"], ["x", "y"]) == (["x", "y"], True)


SWAGGER = {
    "definitions": {
        "ServiceInput": {
            "type": "object",
            "properties": {"data": {"type": "array", "items": {"type": "number"}}, "label": {"type": "string"}},
            "example": {"data": [1.5], "label": "north"},
        }
    }
}


def test_the_form_follows_the_schema_and_names_a_value_that_is_not_json() -> None:
    form = from_swagger(SWAGGER)
    assert [(field.name, field.kind, field.sample) for field in form.fields] == [
        ("data", "array of number", "[1.5]"),
        ("label", "string", '"north"'),
    ]
    assert body_of({"data": "[2]", "label": '"south"'}, form) == b'{"data": [2], "label": "south"}'
    with pytest.raises(BadInput, match=r"The value of 'label' is not JSON .* e\.g\. \"north\""):
        body_of({"data": "[2]", "label": "south"}, form)
    raw = from_swagger({"definitions": {"ServiceInput": {"type": "object", "additionalProperties": {}}}})
    assert raw.raw
    assert body_of({"__body__": "not json at all"}, raw) == b"not json at all"


def test_the_planner_computes_as_mldeploy_plan_and_names_bad_inputs() -> None:
    assert plan({"target_rps": "20", "request_time": "10", "load": "none"}).replicas_needed == 286
    simulated = plan({"target_rps": "200", "request_time": "0.1", "load": "spike"})
    assert len(simulated.series["t"]) == 600
    assert simulated.rejected_percent and simulated.advice
    with pytest.raises(BadPlanInput, match="Seconds one request takes: 0 cannot be planned; type a number more than 0"):
        plan({"request_time": "0"})
    with pytest.raises(BadPlanInput, match="Minimum replicas is more than maximum replicas"):
        plan({"min_replicas": "5", "max_replicas": "2"})

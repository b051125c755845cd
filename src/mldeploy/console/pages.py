"""The console's pages and actions: HTML rendered from templates (htmx swaps the parts that refresh), the log
as server-sent events and the charts' points as JSON. Blocking work runs in Starlette's thread pool."""

import time
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.templating import Jinja2Templates

from ..api.webservice import WebserviceException
from ..api.workspace import Workspace
from ..errors import ServiceNotFound
from ..targets.keys import KEY_NAMES
from . import logs, planner, registry, scoring_form, services
from .metrics import Sampler, parse
from .reach import Unreachable, read

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
ACTIONS = ("reload", "regen", "delete")


def _workspace(request: Request) -> Workspace:
    return request.app.state.workspace  # type: ignore[no-any-return]


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    context.setdefault("workspace", _workspace(request).path)
    return TEMPLATES.TemplateResponse(request, template, context, status_code=status_code)


def _whole_page(request: Request) -> bool:
    """Whether the request wants a whole page: opened by the browser, a followed link (hx-boost) or the back
    button; not a part of a page that htmx refreshes."""
    headers = request.headers
    return not headers.get("hx-request") or bool(headers.get("hx-boosted") or headers.get("hx-history-restore-request"))


def message(request: Request, text: str, status_code: int, title: str = "") -> HTMLResponse:
    """A message in a page, or in the part of a page that asked (htmx)."""
    template = "message.html" if _whole_page(request) else "_message.html"
    return render(request, template, status_code, text=text, title=title or "Problem", kind="error")


def services_page(request: Request) -> HTMLResponse:
    return render(request, "services.html", rows=services.views(_workspace(request)))


def service_rows(request: Request) -> HTMLResponse:
    return render(request, "_service_rows.html", rows=services.views(_workspace(request)))


def _name(request: Request) -> str:
    return str(request.path_params["name"])


def service_page(request: Request) -> HTMLResponse:
    workspace, name = _workspace(request), _name(request)
    try:
        record = services.record_of(workspace, name)
    except ServiceNotFound as error:
        return message(request, str(error), 404, "Service not found")
    form = scoring_form.form_for(record)
    return render(
        request,
        "service.html",
        service=services.view(workspace, record, detailed=True),
        form=form,
        curl=services.curl_command(record, form.sample_body()),
        key_names=KEY_NAMES,
    )


def service_status(request: Request) -> HTMLResponse:
    workspace, name = _workspace(request), _name(request)
    try:
        record = services.record_of(workspace, name)
    except ServiceNotFound as error:
        return message(request, f"{error} It was deleted while this page was open.", 404, "Service not found")
    return render(request, "_status.html", service=services.view(workspace, record))


def service_keys(request: Request) -> HTMLResponse:
    try:
        primary, secondary = services.keys(_workspace(request), _name(request))
    except (ServiceNotFound, WebserviceException) as error:
        return message(request, str(error), 404)
    return render(request, "_keys.html", keys=list(zip(KEY_NAMES, (primary, secondary), strict=True)))


async def _typed(request: Request) -> dict[str, str]:
    return {key: str(value) for key, value in (await request.form()).items()}


async def service_test(request: Request) -> HTMLResponse:
    typed = await _typed(request)
    workspace, name = _workspace(request), _name(request)
    try:
        record = await run_in_threadpool(services.record_of, workspace, name)
    except ServiceNotFound as error:
        return message(request, str(error), 404)
    form = await run_in_threadpool(scoring_form.form_for, record)
    try:
        body = scoring_form.body_of(typed, form)
    except scoring_form.BadInput as error:
        return message(request, str(error), 400, "Not sent")
    answer = await run_in_threadpool(services.send, record, body)
    return render(request, "_answer.html", answer=answer)


def service_metrics(request: Request) -> JSONResponse:
    workspace, name = _workspace(request), _name(request)
    sampler: Sampler = request.app.state.sampler
    try:
        record = services.record_of(workspace, name)
        status, body = read(record, "/metrics")
    except ServiceNotFound as error:
        sampler.forget(name)
        return JSONResponse({"problem": str(error), "points": []}, status_code=404)
    except Unreachable as error:
        return JSONResponse({"problem": str(error), "points": sampler.points(name)})
    if status != 200:
        problem = f"GET /metrics of {name!r} answered {status}; the charts wait for it."
        return JSONResponse({"problem": problem, "points": sampler.points(name)})
    return JSONResponse({"problem": "", "points": sampler.add(name, parse(body.decode(errors="replace"), time.time()))})


def service_log(request: Request) -> StreamingResponse:
    stream = logs.follow(_workspace(request), _name(request), request.is_disconnected)
    return StreamingResponse(stream, media_type="text/event-stream", headers={"Cache-Control": "no-store"})


def service_action(request: Request) -> HTMLResponse:
    action, name = str(request.path_params["action"]), _name(request)
    if action not in ACTIONS:
        return message(request, f"Unknown action {action!r}: use one of {', '.join(ACTIONS)}.", 404)
    key = request.query_params.get("key", "Primary")
    try:
        done = services.act(_workspace(request), name, action, key)
    except WebserviceException as error:
        return message(request, str(error), 409, f"{action} failed")
    if action == "delete":
        request.app.state.sampler.forget(name)
    return render(request, "_message.html", text=done, title="Done", kind="done")


def models_page(request: Request) -> HTMLResponse:
    return render(request, "models.html", models=registry.model_views(_workspace(request)))


def environments_page(request: Request) -> HTMLResponse:
    return render(request, "environments.html", environments=registry.environment_views(_workspace(request)))


def plan_page(request: Request) -> HTMLResponse:
    return render(request, "plan.html", inputs=planner.INPUTS, loads=planner.LOADS, values=planner.defaults())


async def plan_result(request: Request) -> Response:
    try:
        result = await run_in_threadpool(planner.plan, await _typed(request))
    except planner.BadPlanInput as error:
        return message(request, str(error), 400, "Not planned")
    return render(request, "_plan_result.html", result=result)

"""The console's ASGI application: routes, static files (shipped in the package), the token gate, and a
page with a plain message for anything unexpected (never a traceback)."""

import logging
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ..api.workspace import Workspace
from . import pages
from .access import TokenGate
from .metrics import Sampler

STATIC = Path(__file__).parent / "static"
log = logging.getLogger("mldeploy.console")

ROUTES = [
    Route("/", pages.services_page),
    Route("/services/rows", pages.service_rows),
    Route("/services/{name}", pages.service_page),
    Route("/services/{name}/status", pages.service_status),
    Route("/services/{name}/keys", pages.service_keys),
    Route("/services/{name}/log", pages.service_log),
    Route("/services/{name}/metrics", pages.service_metrics),
    Route("/services/{name}/test", pages.service_test, methods=["POST"]),
    Route("/services/{name}/actions/{action}", pages.service_action, methods=["POST"]),
    Route("/models", pages.models_page),
    Route("/environments", pages.environments_page),
    Route("/plan", pages.plan_page),
    Route("/plan", pages.plan_result, methods=["POST"]),
    Mount("/static", StaticFiles(directory=STATIC), name="static"),
]


async def _unexpected(request: Request, error: Exception) -> Response:
    log.exception("unexpected error on %s", request.url.path)
    return pages.message(request, f"The console could not do this: {type(error).__name__}: {error}", 500)


def create_app(workspace: Workspace, token: str) -> Starlette:
    app = Starlette(
        routes=ROUTES,
        middleware=[Middleware(TokenGate, token=token)],
        exception_handlers={Exception: _unexpected},
    )
    app.state.workspace = workspace
    app.state.sampler = Sampler()
    return app

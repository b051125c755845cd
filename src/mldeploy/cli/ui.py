"""``mldeploy ui``: the web console on 127.0.0.1, reached with a random token (the web stack is imported here,
when the command runs, never when the CLI starts)."""

import socket
from typing import Annotated

import typer

from .output import fail
from .state import workspace


def ui(
    ctx: typer.Context,
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port on 127.0.0.1; 0 picks a free one.")] = 8899,
) -> None:
    """Start the web console for this workspace: services, logs, charts, a test form, diagnosis, models,
    environments and the planner. Prints its URL with the access token; stop it with Ctrl+C."""
    import uvicorn

    from ..console.access import new_token
    from ..console.app import create_app

    listener = socket.socket()
    try:
        listener.bind(("127.0.0.1", port))
    except OSError as error:
        listener.close()
        fail(f"Port {port} on 127.0.0.1 cannot be used ({error.strerror}): give another with --port, or --port 0 "
             "for a free one.")  # fmt: skip
    listener.listen(128)  # the printed URL answers at once: connections wait for the app in the backlog
    token = new_token()
    opened = workspace(ctx)
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/?token={token}"
    typer.echo(f"mldeploy console for workspace {opened.path}\nOpen: {url}\nStop: Ctrl+C")
    config = uvicorn.Config(create_app(opened, token), log_level="warning", timeout_graceful_shutdown=1)
    uvicorn.Server(config).run(sockets=[listener])

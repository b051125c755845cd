"""The host's pip settings handed to an image build over 127.0.0.1 (builds run with ``--network host``), never
through a layer: a file copied into the build would stay in an intermediate image (kept by the engine when a
later step fails), and a build argument shows in ``docker history``.

The settings are served as JSON at a URL holding a random token, once, and only while the build runs; the
build gets the URL (worthless afterwards) as a build argument, and build_pip.py fetches it.
"""

import contextlib
import http.server
import json
import secrets
import threading
from collections.abc import Iterator


@contextlib.contextmanager
def served(settings: dict[str, str]) -> Iterator[str]:
    """Serve ``settings`` during the ``with`` block to the first request of the URL it gives; 404 otherwise."""
    path = f"/{secrets.token_urlsafe(32)}"
    body = json.dumps(settings).encode()
    unclaimed = threading.Lock()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path != path or not unclaimed.acquire(blocking=False):
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            """Nothing logged: a request line holds the token."""

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, name="mldeploy-build-settings", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}{path}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()

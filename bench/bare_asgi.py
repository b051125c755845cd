"""The HTTP layer's limit: an ASGI app that reads the request and answers a constant, nothing else.

Served by ``uvicorn bare_asgi:app --http httptools --loop uvloop`` under the same load as the scoring servers.
"""

from typing import Any

BODY = b'{"data": [[1,2,3,4,5,6,7,8,9,10]]}'
START = {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]}
ANSWER = {"type": "http.response.body", "body": BODY}


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    more = True
    while more:
        more = (await receive()).get("more_body", False)
    await send(START)
    await send(ANSWER)

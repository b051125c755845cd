"""The limit of the HTTP layer our front sits on: an asyncio protocol on uvloop whose httptools parser reads
each request, answered with a constant; no routing, no worker. ``python bench/bare_httptools.py PORT``."""

import asyncio
import sys

import httptools
import uvloop

BODY = b'{"data": [[1,2,3,4,5,6,7,8,9,10]]}'
ANSWER = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s" % (len(BODY), BODY)


class Parsed(asyncio.Protocol):
    """A connection whose bytes go to an httptools parser (which calls this object back)."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: asyncio.Transport = transport  # type: ignore[assignment]
        self.parser = httptools.HttpRequestParser(self)

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self.transport.close()


class Constant(Parsed):
    def on_message_complete(self) -> None:
        self.transport.write(ANSWER)


async def serve(port: int) -> None:
    server = await asyncio.get_running_loop().create_server(Constant, "127.0.0.1", port, backlog=2048)
    await server.serve_forever()


if __name__ == "__main__":
    uvloop.run(serve(int(sys.argv[1])))

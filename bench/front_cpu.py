"""The front's own cost per request (its Python, or its modules compiled with mypyc when built, as the server
runs them; ``MLDEPLOY_PURE_PYTHON=1`` for the Python), without sockets or a second process, to measure a change
to the request path before and after. Its timings still move with the machine's load (best rounds from 21 to
35 us within a minute on the project's VM); for a figure that does not move, count its instructions
(bench/README.md).

A real ``Connection`` (httptools, the app, the dispatcher, ids, metrics, the access log) is fed echo.py's
request as bytes; its worker is a real ``Channel`` whose socket is replaced by a stand-in that takes the request
frames the channel writes and answers each with the frame a worker sends for echo.py, fed back to the channel. What
is left out is what the kernel and the event loop cost: read, write, epoll, wake-ups (about as much again:
compare with the front's CPU per request in ``bench/run.sh``).

``python bench/front_cpu.py [--requests N] [--profile | --instructions]``
"""

import argparse
import asyncio
import cProfile
import io
import os
import pstats
import re
import shutil
import statistics
import subprocess
import sys
import time
from collections import deque
from functools import partial
from typing import Any

import uvloop

from mldeploy.scoring import compiled

compiled.activate()  # before the front's modules are imported, as the server's entry points do

from mldeploy.scoring import protocol  # noqa: E402
from mldeploy.scoring.access_log import AccessLog  # noqa: E402
from mldeploy.scoring.app import ScoringApp  # noqa: E402
from mldeploy.scoring.bodies import BodyBudget  # noqa: E402
from mldeploy.scoring.channel import Channel  # noqa: E402
from mldeploy.scoring.config import ServerConfig  # noqa: E402
from mldeploy.scoring.connections import ConnectionLimits  # noqa: E402
from mldeploy.scoring.dispatch import Job, StreamedReply  # noqa: E402
from mldeploy.scoring.front import Front  # noqa: E402
from mldeploy.scoring.metrics import ServerMetrics  # noqa: E402
from mldeploy.scoring.outputs import encode_result  # noqa: E402
from mldeploy.scoring.pool import WorkerPool  # noqa: E402

BODY = b'{"data": [[1,2,3,4,5,6,7,8,9,10]]}'
REQUEST = (
    b"POST /score HTTP/1.1\r\nHost: 127.0.0.1:5001\r\nContent-Type: application/json\r\n"
    b"Content-Length: %d\r\n\r\n%s" % (len(BODY), BODY)
)
ROUNDS = 10  # the best round is the cost with the least interference from the rest of the machine
FLUSH_EVERY = 1000  # access log lines formatted and written at once, as the server's flush interval does


class ClientEnd(asyncio.Transport):
    """Where the front writes its answers: counted, and the first one kept to be checked."""

    def __init__(self) -> None:
        super().__init__()
        self.answers = 0
        self.first = b""

    def write(self, data: Any) -> None:
        self.writelines([data])

    def writelines(self, list_of_data: Any) -> None:
        if not self.answers:
            self.first = b"".join(list_of_data)
        self.answers += 1

    def is_closing(self) -> bool:
        return False


class WorkerEnd(asyncio.Transport):
    """The worker's socket: each request (a frame and its body) the channel writes is answered with the frame a
    worker sends for echo.py."""

    def __init__(self) -> None:
        super().__init__()
        status, headers, body, exec_ms = encode_result(BODY.decode(), 0.01)
        self.reply = b"".join(protocol.reply_parts(status, headers, body, exec_ms))
        self.replies: list[bytes] = []

    def writelines(self, list_of_data: Any) -> None:
        self.replies.extend([self.reply] * (len(list_of_data) // 2))

    def is_closing(self) -> bool:
        return False


class Seat:
    """A worker as the dispatcher sees it."""

    def __init__(self, channel: Channel) -> None:
        self.channel = channel
        self.stream: StreamedReply | None = None
        self.jobs: deque[Job] = deque()
        self.retiring = False
        self.replaced = False
        self.served = 0


async def measure(requests: int, profile: bool) -> None:
    config = ServerConfig(entry_script="score.py", app_root=".")
    metrics = ServerMetrics()
    pool = WorkerPool(config, metrics)
    log = AccessLog(io.StringIO())
    app = ScoringApp(pool, metrics, log)
    limits = ConnectionLimits(
        config.max_connections, config.max_header_bytes, config.max_headers, config.read_timeout_s
    )
    connection = Front(app, limits, config.max_body_bytes, BodyBudget(config.max_buffered_bytes)).connection()
    client = ClientEnd()
    connection.connection_made(client)
    worker = WorkerEnd()
    channel = Channel()
    channel.connection_made(worker)
    seat = Seat(channel)
    channel.on_message = partial(pool.dispatcher.on_reply, seat)  # as the pool routes replies
    channel.expect_replies(protocol.HEADERS_NONE)  # what echo.py's worker says: its run() reads no header
    pool.dispatcher.hand_out(seat)  # type: ignore[arg-type]

    def one() -> None:
        connection.data_received(REQUEST)
        channel._flush()  # what the event loop calls at the end of its turn
        channel.data_received(b"".join(worker.replies))
        worker.replies.clear()
        if client.answers % FLUSH_EVERY == 0:
            log.flush()

    for _ in range(FLUSH_EVERY):
        one()
    if not client.first.startswith(b"HTTP/1.1 200 OK\r\n") or client.answers != FLUSH_EVERY:
        raise SystemExit(f"The front did not answer as a server would: {client.answers} answers, {client.first!r}")
    profiler = cProfile.Profile() if profile else None
    if profiler is not None:
        profiler.enable()
    rounds = []
    for _ in range(ROUNDS):
        started = time.process_time()
        for _ in range(requests // ROUNDS):
            one()
        rounds.append((time.process_time() - started) / (requests // ROUNDS) * 1e6)
    if profiler is not None:
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(30)
    note = " (under cProfile: several times the real cost)" if profile else ""
    print(
        f"front's cost per request: {min(rounds):.1f} us (best of {ROUNDS} rounds; median "
        f"{statistics.median(rounds):.1f}) over {requests} requests{note}; front: {compiled.state}"
    )


def count_instructions(requests: int) -> None:
    """Instructions per request, which do not move with the machine's load: this program run twice under
    valgrind's cachegrind, ``requests`` apart, the difference divided (start-up and warm-up cancel out)."""
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        raise SystemExit("Counting instructions needs valgrind: apt-get install -y valgrind")
    counts = []
    for count in (ROUNDS, ROUNDS + requests):
        command = [valgrind, "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null",
                   sys.executable, __file__, "--requests", str(count)]  # fmt: skip
        result = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "PYTHONHASHSEED": "0"})
        found = re.search(r"I\s+refs:\s+([\d,]+)", result.stderr)
        if result.returncode != 0 or found is None:
            raise SystemExit(f"valgrind did not run the harness to its end:\n{result.stderr[-2000:]}")
        counts.append(int(found.group(1).replace(",", "")))
    per_request = (counts[1] - counts[0]) / requests
    print(
        f"front's instructions per request: {per_request:,.0f} (cachegrind, counted over {requests} requests); "
        f"front: {compiled.state}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=200_000)
    parser.add_argument("--profile", action="store_true", help="print where the time goes (cProfile)")
    parser.add_argument(
        "--instructions", action="store_true", help="count instructions per request under valgrind (10,000 requests)"
    )
    options = parser.parse_args()
    if options.instructions:
        count_instructions(10_000 if options.requests == parser.get_default("requests") else options.requests)
        return
    uvloop.run(measure(options.requests, options.profile))


if __name__ == "__main__":
    main()

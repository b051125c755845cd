"""The queue of scoring requests in front of the workers, and which worker runs which request.

A worker runs one request at a time: the first of its line. A request goes straight to an idle worker, or
waits in the queue at most ``max_request_wait_ms`` (then Overloaded: 503). When a worker answers, the next
queued requests are written to it from the same callback. While run() is fast (its recent time, times the
requests written ahead, stays within ``AHEAD_SHARE`` of the wait limit), up to ``AHEAD`` requests are
written to a worker at once: it finds the next one in its socket instead of sleeping until the front wakes
up, and the front reads several answers per turn of its loop. A request written ahead has not started: if
its worker dies or is replaced it goes back to the head of the queue, and its scoring timeout starts only
when it becomes the first of the line.

A worker that passes the scoring timeout fails its request (WorkerTimedOut, 504) and is handed to
``on_timeout`` to be replaced; one that dies fails the request it was running (WorkerDied, 502).

Both limits are checked by one watch that runs while requests are queued or running, every tenth of the
shorter limit (at most every 5 ms), rather than by a timer started and cancelled per request: a 503 or 504
comes at most that much after its limit.
"""

import asyncio
import math
import time
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

from .channel import Channel
from .config import ServerConfig
from .metrics import Buckets

AHEAD = 16  # requests a worker holds at most: the one it runs and those written ahead
AHEAD_SHARE = 0.1  # of the queue wait limit: the longest a request written ahead may expect to wait
SMOOTHING = 0.2  # weight of the newest request in the estimate of run()'s time
WATCH_SHARE = 0.1  # of the shorter limit: how often the limits are checked
WATCH_MIN_S = 0.005

Settle = Callable[[Any, Exception | None], None]


class WorkerDied(Exception):
    """The worker process ended while it held the request."""


class WorkerTimedOut(Exception):
    """run() did not answer within the scoring timeout."""


class Overloaded(Exception):
    """No worker freed up within the wait limit."""


class Job:
    """One scoring request: its message (set when it is submitted), who is told its outcome (once), and its
    deadline. The front's ``Request`` is one."""

    __slots__ = ("deadline", "done", "message", "queued_at", "settle", "started")

    def __init__(self, settle: Settle) -> None:
        self.message: Any = None
        self.settle = settle
        self.done = False
        self.queued_at = 0.0  # perf_counter() when queued: its wait is measured for the metrics
        self.started = 0.0  # perf_counter() when its worker started it: run()'s time is estimated from it
        self.deadline = 0.0  # loop time by which it must leave the queue, then by which it must be answered

    def finish(self, reply: Any, error: Exception | None) -> None:
        if not self.done:
            self.done = True
            self.settle(reply, error)


class Sink(Protocol):
    """Who writes a streamed reply to its client."""

    def stream_chunk(self, chunk: bytes) -> None: ...
    def stream_end(self) -> None: ...
    def stream_abort(self) -> None: ...


class StreamedReply:
    """A reply too large to gather (see ``Channel``): its head now, its body piece by piece to ``sink``, which
    whoever answers the request sets when the reply is settled; ``channel`` pauses the worker for a slow client."""

    __slots__ = ("channel", "exec_ms", "headers", "sink", "size", "status")

    def __init__(self, head: tuple[int, str, float | None, int], channel: Channel) -> None:
        self.status, self.headers, self.exec_ms, self.size = head
        self.channel = channel
        self.sink: Sink | None = None

    def __len__(self) -> int:
        return self.size


class Seat(Protocol):
    """What the dispatcher needs of a worker."""

    channel: Channel
    stream: StreamedReply | None  # the reply it is sending, when it is streamed
    jobs: deque[Job]  # written to the worker; the first is running
    retiring: bool  # an older generation, or replaced by a fresh worker: let go once its line is empty
    replaced: bool  # being killed: takes nothing more
    served: int  # requests it answered


class Dispatcher:
    def __init__(
        self,
        config: ServerConfig,
        queue_wait: Buckets,
        on_timeout: Callable[[Any], None],
        on_worn: Callable[[Any], None],
    ) -> None:
        self.config = config
        self.queue_wait = queue_wait
        self.on_timeout = on_timeout
        self.on_worn = on_worn  # a worker that answered max_requests_per_worker requests: to be replaced
        self.running = 0
        self.idle: deque[Seat] = deque()
        self._queue: deque[Job] = deque()
        self._written_ahead = 0
        self._run_s = 0.0  # recent time from a request's start to its answer
        self._busy: set[Seat] = set()  # running a request
        self._watching = False
        self._loop = asyncio.get_running_loop()

    @property
    def in_flight(self) -> int:
        """Scoring requests received and not yet answered (running, written ahead or queued)."""
        return self.running + self._written_ahead + len(self._queue)

    def submit(self, job: Job) -> None:
        """Run one request (``job.message``); ``job.settle(reply, None)`` gets the worker's reply, or
        ``job.settle(None, error)`` Overloaded, WorkerTimedOut or WorkerDied."""
        if self.idle and self.running < self.config.max_concurrent_requests and not self._queue:
            self.queue_wait.observe(0.0)
            self._write(job, self.idle.popleft())
        else:
            job.queued_at = time.perf_counter()
            self._enqueue(job, front=False)

    def _enqueue(self, job: Job, front: bool) -> None:
        job.deadline = self._loop.time() + self.config.max_request_wait_ms / 1000
        if front:
            self._queue.appendleft(job)
        else:
            self._queue.append(job)
        self._watch_soon()

    def _write(self, job: Job, seat: Seat) -> None:
        seat.jobs.append(job)
        if len(seat.jobs) == 1:
            self._start(job, seat)
        else:
            self._written_ahead += 1
        seat.channel.send_request(job.message)

    def _start(self, job: Job, seat: Seat) -> None:
        """``job`` is now the one ``seat`` runs: its scoring time starts."""
        self.running += 1
        job.started = time.perf_counter()
        job.deadline = self._loop.time() + self.config.scoring_timeout_ms / 1000
        self._busy.add(seat)
        if not self._watching:
            self._watch_soon()

    def _watch_soon(self) -> None:
        if not self._watching:
            self._watching = True
            limit_ms = min(self.config.max_request_wait_ms, self.config.scoring_timeout_ms)
            self._loop.call_later(max(WATCH_MIN_S, limit_ms / 1000 * WATCH_SHARE), self._watch)

    def _watch(self) -> None:
        """Answer 503 to the requests queued past the wait limit and 504 to those run past the scoring timeout;
        again later while any request is queued or running."""
        self._watching = False
        now = self._loop.time()
        if self._queue:
            expired = [job for job in self._queue if job.deadline <= now]
            for job in expired:  # out of the queue at once: nothing of it (its body) stays held once answered
                self._queue.remove(job)
                if not job.done:
                    job.finish(None, Overloaded())
                    self.queue_wait.observe(time.perf_counter() - job.queued_at)
        for seat in [seat for seat in self._busy if seat.jobs and seat.jobs[0].deadline <= now]:
            self._time_out(seat)
        if self._queue or self._busy:
            self._watch_soon()

    def on_reply(self, seat: Seat, message: Any) -> None:
        if not seat.jobs or seat.replaced:
            return
        self._answered(seat).finish(message, None)
        self._carry_on(seat)

    def on_stream_start(self, seat: Seat, head: Any) -> None:
        """A large reply begins: its request is settled with it now, its body follows."""
        if not seat.jobs or seat.replaced:
            return
        job = seat.jobs[0]
        job.deadline = math.inf  # run() has returned: sending its answer is not limited by the scoring timeout
        seat.stream = StreamedReply(head, seat.channel)
        job.finish(seat.stream, None)

    def on_stream_chunk(self, seat: Seat, chunk: bytes) -> None:
        stream = seat.stream
        if stream is not None and stream.sink is not None:
            stream.sink.stream_chunk(chunk)

    def on_stream_end(self, seat: Seat) -> None:
        stream, seat.stream = seat.stream, None
        if stream is not None and stream.sink is not None:
            stream.sink.stream_end()
        if seat.jobs and not seat.replaced:
            self._answered(seat)
            self._carry_on(seat)

    def _answered(self, seat: Seat) -> Job:
        """The request ``seat`` ran is answered: out of its line, and counted in the estimate of run()'s time."""
        job = self._end_first(seat)
        self._run_s += SMOOTHING * (time.perf_counter() - job.started - self._run_s)
        return job

    def _carry_on(self, seat: Seat) -> None:
        """After an answer: recycle a worn worker, start the next request written ahead, fill the line."""
        seat.served += 1
        if seat.served == self.config.max_requests_per_worker:
            self.on_worn(seat)
        if seat.jobs:
            self._written_ahead -= 1
            self._start(seat.jobs[0], seat)
        self.hand_out(seat)

    def _end_first(self, seat: Seat) -> Job:
        job = seat.jobs.popleft()
        self.running -= 1
        self._busy.discard(seat)
        return job

    def _room(self, seat: Seat) -> int:
        """How many requests ``seat`` may hold now: as many as run()'s recent time lets the last of them start
        within ``AHEAD_SHARE`` of the wait limit (one, for a slow run()), at most ``AHEAD``."""
        allowed_s = self.config.max_request_wait_ms / 1000 * AHEAD_SHARE
        if self._run_s * (AHEAD - 1) <= allowed_s:
            return AHEAD
        return 1 + int(allowed_s / self._run_s)

    def hand_out(self, seat: Seat) -> None:
        """Fill ``seat``'s line from the queue, or park it as idle (or let it go when it is retiring)."""
        if seat.replaced:
            return
        if seat.retiring:
            if not seat.jobs:
                seat.channel.close()
            return
        if self._queue:
            room = self._room(seat)
            while self._queue and len(seat.jobs) < room:
                if not seat.jobs and self.running >= self.config.max_concurrent_requests:
                    break
                job = self._queue.popleft()
                if job.done:
                    continue
                self.queue_wait.observe(time.perf_counter() - job.queued_at)
                self._write(job, seat)
        if not seat.jobs:
            self.idle.append(seat)

    def fail(self, seat: Seat, error: Exception) -> None:
        """``seat`` will answer nothing more (it died, or is replaced): its running request fails with
        ``error``, those written ahead go back to the head of the queue."""
        if seat in self.idle:
            self.idle.remove(seat)
        stream, seat.stream = seat.stream, None
        if stream is not None and stream.sink is not None:
            stream.sink.stream_abort()  # its client got the head and part of the body: its connection is cut
        if seat.jobs:
            self._end_first(seat).finish(None, error)
        for job in reversed(seat.jobs):
            self._written_ahead -= 1
            self._enqueue(job, front=True)
        seat.jobs.clear()
        for _ in range(len(self.idle)):  # idle workers take the requests put back (each is looked at once)
            if not self._queue:
                break
            self.hand_out(self.idle.popleft())

    def _time_out(self, seat: Seat) -> None:
        seat.replaced = True
        self.fail(seat, WorkerTimedOut())
        self.on_timeout(seat)

"""The worker processes of one server, supervised, and the queue of scoring requests in front of them.

Each worker runs one request at a time. A request goes straight to an idle worker, or waits in the queue
at most ``max_request_wait_ms`` (then: Overloaded, 503). When a worker answers, the next queued request is
written to it from the same callback, so a busy worker never waits for the event loop to hand it work.
A worker that passes the scoring timeout has its stack dumped and is killed (WorkerTimedOut, 504); one
that dies holding a request fails it (WorkerDied, 502). Either is restarted, with backoff after crashes.
"""

import asyncio
import logging
import os
import signal
import socket
import sys
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from . import protocol
from .config import ServerConfig
from .metrics import ServerMetrics

logger = logging.getLogger("mldeploy.pool")

STACK_DUMP_GRACE_S = 0.2
HEALTHY_LIFETIME_S = 30.0
MAX_BACKOFF_S = 10.0


class WorkerDied(Exception):
    """The worker process ended while it held the request."""


class WorkerTimedOut(Exception):
    """run() did not answer within the scoring timeout."""


class Overloaded(Exception):
    """No worker freed up within the wait limit."""


class Channel(asyncio.Protocol):
    """The front's end of the socket pair to one worker: decodes frames and hands them to ``on_message``."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._transport: asyncio.Transport | None = None
        self.on_message: Callable[[Any], None] = lambda message: None
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer
        buffer += data
        while len(buffer) >= protocol.HEADER_SIZE:
            (size,) = protocol.HEADER.unpack_from(buffer)
            end = protocol.HEADER_SIZE + size
            if len(buffer) < end:
                return
            message = protocol.decode(bytes(buffer[protocol.HEADER_SIZE : end]))
            del buffer[:end]
            self.on_message(message)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)

    def send(self, message: Any) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.write(protocol.encode(message))

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()


class Job:
    """One scoring request: its message, the future its caller awaits, and its timers."""

    __slots__ = ("expiry", "future", "message", "queued_at", "timer")

    def __init__(self, message: Any, future: "asyncio.Future[Any]") -> None:
        self.message = message
        self.future = future
        self.queued_at = 0.0
        self.expiry: asyncio.TimerHandle | None = None
        self.timer: asyncio.TimerHandle | None = None


class Worker:
    def __init__(self, slot: int, process: asyncio.subprocess.Process, channel: Channel) -> None:
        self.slot = slot
        self.process = process
        self.channel = channel
        self.started = time.monotonic()
        self.job: Job | None = None
        self.retired = False

    @property
    def pid(self) -> int:
        return self.process.pid


def _exit_description(returncode: int | None) -> str:
    if returncode is None:
        return "is still running"
    if returncode < 0:
        name = signal.Signals(-returncode).name
        hint = " (killed: out of memory, or replaced)" if name == "SIGKILL" else ""
        return f"was ended by signal {name}{hint}"
    return f"exited with code {returncode}"


class WorkerPool:
    def __init__(self, config: ServerConfig, metrics: ServerMetrics) -> None:
        self.config = config
        self.metrics = metrics
        self.ready_count = 0
        self.info: dict[str, Any] | None = None
        self.failure: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._loop = asyncio.get_running_loop()
        self._idle: deque[Worker] = deque()
        self._queue: deque[Job] = deque()
        self._running = 0
        self._limit = config.max_concurrent_requests
        self._timeout_s = config.scoring_timeout_ms / 1000
        self._max_wait_s = config.max_request_wait_ms / 1000
        self._workers: dict[int, Worker] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False
        self._environment = config.worker_environment()
        self._worker_args = ["--debug-errors"] if config.debug_errors else []

    # ---- requests

    def submit(self, message: Any) -> "asyncio.Future[Any]":
        """Run one request; the future fails with Overloaded, WorkerTimedOut or WorkerDied."""
        job = Job(message, self._loop.create_future())
        self.metrics.in_flight.inc()
        job.future.add_done_callback(self._finished)
        if self._idle and self._running < self._limit and not self._queue:
            self.metrics.queue_wait.observe(0.0)
            self._start(job, self._idle.popleft())
        else:
            job.queued_at = time.perf_counter()
            job.expiry = self._loop.call_later(self._max_wait_s, self._expire, job)
            self._queue.append(job)
        return job.future

    def _finished(self, _: "asyncio.Future[Any]") -> None:
        self.metrics.in_flight.dec()

    def _start(self, job: Job, worker: Worker) -> None:
        self._running += 1
        worker.job = job
        job.timer = self._loop.call_later(self._timeout_s, self._time_out, worker, job)
        worker.channel.send(job.message)

    def _expire(self, job: Job) -> None:
        if not job.future.done():
            job.future.set_exception(Overloaded())
            self.metrics.queue_wait.observe(time.perf_counter() - job.queued_at)

    def _on_reply(self, worker: Worker, message: Any) -> None:
        job = worker.job
        if job is None:
            return
        worker.job = None
        self._running -= 1
        if job.timer is not None:
            job.timer.cancel()
        if not job.future.done():
            job.future.set_result(message)
        self._hand_out(worker)

    def _hand_out(self, worker: Worker) -> None:
        """Give ``worker`` the oldest queued request, or park it as idle."""
        while self._queue and self._running < self._limit:
            job = self._queue.popleft()
            if job.future.done():
                continue
            if job.expiry is not None:
                job.expiry.cancel()
            self.metrics.queue_wait.observe(time.perf_counter() - job.queued_at)
            self._start(job, worker)
            return
        self._idle.append(worker)

    def _fail_job(self, worker: Worker, error: Exception) -> None:
        job, worker.job = worker.job, None
        if job is None:
            return
        self._running -= 1
        if job.timer is not None:
            job.timer.cancel()
        if not job.future.done():
            job.future.set_exception(error)

    def _time_out(self, worker: Worker, job: Job) -> None:
        if worker.job is not job:
            return
        self._fail_job(worker, WorkerTimedOut())
        worker.retired = True
        logger.error(
            "run() in worker pid %d exceeded the scoring timeout of %d ms; its stack follows, then it is replaced",
            worker.pid,
            self.config.scoring_timeout_ms,
        )
        self._signal(worker, signal.SIGUSR2)
        self._loop.call_later(STACK_DUMP_GRACE_S, self._signal, worker, signal.SIGKILL)

    # ---- worker processes

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._supervise(slot)) for slot in range(self.config.workers)]

    async def _spawn(self, slot: int) -> Worker:
        front_end, worker_end = socket.socketpair()
        with worker_end:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "mldeploy.scoring.worker",
                str(worker_end.fileno()),
                *self._worker_args,
                pass_fds=[worker_end.fileno()],
                env=self._environment,
                cwd=self.config.app_root,
            )
        _, channel = await self._loop.create_unix_connection(Channel, sock=front_end)
        worker = Worker(slot, process, channel)
        self._workers[slot] = worker
        return worker

    async def _first_message(self, worker: Worker) -> tuple[str, Any]:
        first: asyncio.Future[Any] = self._loop.create_future()
        worker.channel.on_message = lambda message: first.done() or first.set_result(message)
        await asyncio.wait([first, worker.channel.closed], return_when=asyncio.FIRST_COMPLETED)
        if first.done():
            kind, payload = first.result()
            return kind, payload
        returncode = await worker.process.wait()
        return protocol.INIT_FAILED, {
            "summary": [f"The worker process {_exit_description(returncode)} before init() finished."],
            "fix": "Check the log lines above; a worker killed while loading usually needs more memory.",
            "traceback": "",
        }

    async def _supervise(self, slot: int) -> None:
        init_failures = 0
        crashes = 0
        while not self._stopping:
            worker = await self._spawn(slot)
            kind, payload = await self._first_message(worker)
            if kind == protocol.READY:
                init_failures = 0
                await self._run_ready(worker, payload)
                if self._stopping:
                    return
                crashes = 1 if time.monotonic() - worker.started > HEALTHY_LIFETIME_S else crashes + 1
                delay = 0.0 if worker.retired or crashes <= 1 else min(0.25 * 2 ** (crashes - 2), MAX_BACKOFF_S)
                self.metrics.worker_restarts.inc()
            else:
                await worker.process.wait()
                init_failures += 1
                if self._stopping:
                    return
                if init_failures > self.config.init_retries:
                    if not self.failure.done():
                        self.failure.set_result(payload)
                    return
                delay = min(0.5 * 2 ** (init_failures - 1), MAX_BACKOFF_S)
                logger.warning(
                    "Worker %d failed to start (%d of %d tries); retrying in %.1f s",
                    slot,
                    init_failures,
                    self.config.init_retries + 1,
                    delay,
                )
            if delay:
                await asyncio.sleep(delay)

    async def _run_ready(self, worker: Worker, info: dict[str, Any]) -> None:
        if self.info is None:
            self.info = info
        self.ready_count += 1
        self.metrics.workers_ready.set(self.ready_count)
        worker.channel.on_message = lambda message: self._on_reply(worker, message)
        self._hand_out(worker)
        await worker.channel.closed
        self.ready_count -= 1
        self.metrics.workers_ready.set(self.ready_count)
        if worker in self._idle:
            self._idle.remove(worker)
        self._fail_job(worker, WorkerDied())
        returncode = await worker.process.wait()
        if not self._stopping:
            logger.warning("Worker pid %d %s; starting a new one", worker.pid, _exit_description(returncode))

    @staticmethod
    def _signal(worker: Worker, signum: int) -> None:
        if worker.process.returncode is None:
            try:
                os.kill(worker.pid, signum)
            except ProcessLookupError:
                return

    async def stop(self, grace_s: float = 5.0) -> None:
        """Close every worker's channel (they exit), then kill what is still running after ``grace_s``."""
        self._stopping = True
        for worker in self._workers.values():
            worker.channel.close()
        deadline = time.monotonic() + grace_s
        for worker in self._workers.values():
            try:
                await asyncio.wait_for(worker.process.wait(), max(0.0, deadline - time.monotonic()))
            except TimeoutError:
                self._signal(worker, signal.SIGKILL)
                await worker.process.wait()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

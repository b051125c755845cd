"""The worker processes of one server, supervised, and the queue of scoring requests in front of them.

Each worker runs one request at a time. A request goes straight to an idle worker, or waits in the queue
at most ``max_request_wait_ms`` (then: Overloaded, 503). When a worker answers, the next queued request is
written to it from the same callback, so a busy worker never waits for the event loop to hand it work.
A worker that passes the scoring timeout has its stack dumped and is killed (WorkerTimedOut, 504); one
that dies holding a request fails it (WorkerDied, 502). Either is restarted, with backoff after crashes.

``reload(config)`` starts a new generation of workers; the old ones keep serving until the first new one
is ready, then finish their request and exit. A generation whose init() keeps failing is given up (the
old one keeps serving); for the first generation that stops the server.
"""

import asyncio
import itertools
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
from .channel import Channel
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
    def __init__(self, generation: int, process: asyncio.subprocess.Process, channel: Channel) -> None:
        self.generation = generation
        self.process = process
        self.channel = channel
        self.started = time.monotonic()
        self.job: Job | None = None
        self.python = ""  # the interpreter it runs
        self.replaced = False  # killed on purpose (timeout): restart at once
        self.retiring = False  # an older generation: exit after the current request

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


class Generation:
    """One set of workers started from one config."""

    def __init__(self, number: int, config: ServerConfig) -> None:
        self.number = number
        self.config = config
        self.environment = {**config.worker_environment(), "MLDEPLOY_FRONT_PID": str(os.getpid())}
        self.python = config.python or sys.executable
        self.ready = False
        self.tasks: list[asyncio.Task[None]] = []


class WorkerPool:
    def __init__(self, config: ServerConfig, metrics: ServerMetrics) -> None:
        self.config = config
        self.metrics = metrics
        self.ready_count = 0
        self.info: dict[str, Any] | None = None
        self.failure: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.on_ready: Callable[[int], None] = lambda generation: None
        self.on_failed: Callable[[int, dict[str, Any]], None] = lambda generation, report: None
        self._loop = asyncio.get_running_loop()
        self._idle: deque[Worker] = deque()
        self._queue: deque[Job] = deque()
        self._running = 0
        self._workers: set[Worker] = set()
        self._generations: list[Generation] = []
        self._numbers = itertools.count(1)
        self._spare: Worker | None = None
        self._spare_task: asyncio.Task[Worker] | None = None
        self._stopping = False

    # ---- requests

    def submit(self, message: Any) -> "asyncio.Future[Any]":
        """Run one request; the future fails with Overloaded, WorkerTimedOut or WorkerDied."""
        job = Job(message, self._loop.create_future())
        self.metrics.in_flight.inc()
        job.future.add_done_callback(self._finished)
        if self._idle and self._running < self.config.max_concurrent_requests and not self._queue:
            self.metrics.queue_wait.observe(0.0)
            self._start(job, self._idle.popleft())
        else:
            job.queued_at = time.perf_counter()
            job.expiry = self._loop.call_later(self.config.max_request_wait_ms / 1000, self._expire, job)
            self._queue.append(job)
        return job.future

    def _finished(self, _: "asyncio.Future[Any]") -> None:
        self.metrics.in_flight.dec()

    def _start(self, job: Job, worker: Worker) -> None:
        self._running += 1
        worker.job = job
        job.timer = self._loop.call_later(self.config.scoring_timeout_ms / 1000, self._time_out, worker, job)
        worker.channel.send_request(job.message)

    def _expire(self, job: Job) -> None:
        # out of the queue at once: nothing of the request (its body) stays held once it is answered 503
        if self._queue and self._queue[0] is job:
            self._queue.popleft()
        elif job in self._queue:
            self._queue.remove(job)
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
        """Give ``worker`` the oldest queued request, or park it as idle (or let it go if it is retiring)."""
        if worker.retiring:
            worker.channel.close()
            return
        while self._queue and self._running < self.config.max_concurrent_requests:
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
        worker.replaced = True
        logger.error(
            "run() in worker pid %d exceeded the scoring timeout of %d ms; its stack follows, then it is replaced",
            worker.pid,
            self.config.scoring_timeout_ms,
        )
        self._signal(worker, signal.SIGUSR2)
        self._loop.call_later(STACK_DUMP_GRACE_S, self._signal, worker, signal.SIGKILL)

    # ---- generations of worker processes

    def start(self) -> None:
        self._launch(self.config)

    def reload(self, config: ServerConfig) -> int:
        """Replace every worker by one started from ``config``, without a gap; the new generation's number."""
        logger.info("Reloading: starting %d new worker(s) for %s", config.workers, config.entry_script)
        return self._launch(config)

    def settled(self) -> bool:
        """True when the newest generation serves (no reload under way)."""
        return bool(self._generations) and self._generations[-1].ready

    def retune(self, config: ServerConfig) -> int:
        """Take settings only the front reads (keys, CORS) at once, keeping the workers; the number reported ready."""
        self.config = self._generations[-1].config = config
        number = next(self._numbers)
        logger.info("Settings changed (keys or CORS): applied at once, the workers keep serving")
        self.on_ready(number)
        return number

    def _launch(self, config: ServerConfig) -> int:
        generation = Generation(next(self._numbers), config)
        self._generations.append(generation)
        generation.tasks = [asyncio.create_task(self._supervise(generation)) for _ in range(config.workers)]
        return generation.number

    def _current(self, generation: Generation) -> bool:
        """True for the newest generation, and for the one serving while the newest is still starting."""
        if self._stopping:
            return False
        newest = self._generations[-1]
        if generation is newest:
            return True
        serving = next((item for item in reversed(self._generations) if item.ready), None)
        return generation is serving and not newest.ready

    async def _start_process(self, generation: Generation, *args: str, **environment: str) -> Worker:
        front_end, worker_end = socket.socketpair()
        with worker_end:
            process = await asyncio.create_subprocess_exec(
                generation.python, "-m", "mldeploy.scoring.worker", str(worker_end.fileno()), *args,
                pass_fds=[worker_end.fileno()], env={**generation.environment, **environment},
                cwd=generation.config.app_root,
            )  # fmt: skip
        _, channel = await self._loop.create_unix_connection(Channel, sock=front_end)
        worker = Worker(generation.number, process, channel)
        worker.python = generation.python
        self._workers.add(worker)
        return worker

    async def _spawn(self, generation: Generation) -> Worker:
        """A worker for ``generation``: the warm spare when there is one for its interpreter, else a new one."""
        spare, self._spare = self._spare, None
        if spare is not None and spare.python == generation.python and not spare.channel.closed.done():
            spare.generation = generation.number
            spare.channel.send((protocol.SPARE_START, generation.environment))
            self._keep_spare(generation)
            return spare
        if spare is not None:
            spare.channel.close()
        return await self._start_process(generation)

    def _keep_spare(self, generation: Generation) -> None:
        """Start a spare (in the background) when the config asks for one and none is waiting."""
        if generation.config.spare_worker and self._spare is None and not self._stopping and self.info:
            preload = ",".join(self.info.get("preload", []))
            task = asyncio.create_task(self._start_process(generation, "--spare", MLDEPLOY_PRELOAD=preload))
            task.add_done_callback(self._spare_started)
            self._spare_task = task

    def _spare_started(self, task: "asyncio.Task[Worker]") -> None:
        if task.cancelled() or task.exception() is not None:
            return
        spare = task.result()
        if self._stopping or self._spare is not None:
            spare.channel.close()
        else:
            self._spare = spare

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

    async def _supervise(self, generation: Generation) -> None:
        init_failures = 0
        crashes = 0
        while self._current(generation):
            worker = await self._spawn(generation)
            kind, payload = await self._first_message(worker)
            if kind == protocol.READY:
                init_failures = 0
                await self._serve_until_exit(worker, generation, payload)
                if not self._current(generation):
                    return
                crashes = 1 if time.monotonic() - worker.started > HEALTHY_LIFETIME_S else crashes + 1
                delay = 0.0 if worker.replaced or crashes <= 1 else min(0.25 * 2 ** (crashes - 2), MAX_BACKOFF_S)
                self.metrics.worker_restarts.inc()
            else:
                await worker.process.wait()
                self._workers.discard(worker)
                init_failures += 1
                if not self._current(generation):
                    return
                if init_failures > generation.config.init_retries or payload.get("permanent"):
                    self._give_up(generation, payload)  # a permanent failure (score.py cannot load) is not retried
                    return
                delay = min(0.5 * 2 ** (init_failures - 1), MAX_BACKOFF_S)
                logger.warning(
                    "A worker failed to start (%d of %d tries); retrying in %.1f s",
                    init_failures, generation.config.init_retries + 1, delay,
                )  # fmt: skip
            if delay:
                await asyncio.sleep(delay)

    def _give_up(self, generation: Generation, report: dict[str, Any]) -> None:
        if generation.number == 1 and not generation.ready:
            if not self.failure.done():
                self.failure.set_result(report)
            return
        logger.error("Reload failed: %s; the previous workers keep serving.", " ".join(report.get("summary", [])))
        self._generations.remove(generation)
        self.on_failed(generation.number, report)

    def _promote(self, generation: Generation, info: dict[str, Any]) -> None:
        """The first ready worker of the newest generation: it now sets the config and retires the older ones."""
        generation.ready = True
        self.config = generation.config
        self.info = info
        for worker in list(self._workers):
            if worker.generation < generation.number:
                worker.retiring = True
                if worker in self._idle:
                    self._idle.remove(worker)
                    worker.channel.close()
        self.on_ready(generation.number)
        self._keep_spare(generation)

    async def _serve_until_exit(self, worker: Worker, generation: Generation, info: dict[str, Any]) -> None:
        if not self._current(generation):
            worker.channel.close()
        elif not generation.ready:
            self._promote(generation, info)
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
        self._workers.discard(worker)
        if self._current(generation):
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
        workers = list(self._workers)
        for worker in workers:
            worker.channel.close()
        deadline = time.monotonic() + grace_s
        for worker in workers:
            try:
                await asyncio.wait_for(worker.process.wait(), max(0.0, deadline - time.monotonic()))
            except TimeoutError:
                self._signal(worker, signal.SIGKILL)
                await worker.process.wait()
        tasks = [task for generation in self._generations for task in generation.tasks]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

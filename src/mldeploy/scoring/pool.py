"""The worker processes of one server, supervised; ``dispatch`` decides which of them runs which request.

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
from functools import partial
from typing import Any

from . import protocol
from .channel import Channel
from .config import ServerConfig
from .dispatch import Dispatcher, Job, StreamedReply, WorkerDied
from .metrics import ServerMetrics

logger = logging.getLogger("mldeploy.pool")

STACK_DUMP_GRACE_S = 0.2
HEALTHY_LIFETIME_S = 30.0
MAX_BACKOFF_S = 10.0
MEMORY_CHECK_S = 1.0
WORKER_EXIT_S = 1.0  # after its channel closes: an idle worker exits at once
PAGE_MIB = os.sysconf("SC_PAGE_SIZE") / 2**20


class Worker:
    def __init__(self, generation: int, process: asyncio.subprocess.Process, channel: Channel) -> None:
        self.generation = generation
        self.process = process
        self.channel = channel
        self.started = time.monotonic()
        self.jobs: deque[Job] = deque()  # written to it; the first is running
        self.stream: StreamedReply | None = None
        self.python = ""  # the interpreter it runs
        self.replaced = False  # killed on purpose (timeout): restart at once
        self.retiring = False  # an older generation, or recycled: exit after its requests
        self.recycled = False  # a fresh worker is starting to take its place (max requests or memory reached)
        self.serving = False
        self.served = 0

    @property
    def pid(self) -> int:
        return self.process.pid


def _other_version(version: Any) -> dict[str, Any]:
    """Why a worker that reports another frame protocol than this server's cannot serve here."""
    return {
        "summary": [
            f"mldeploy changed on disk since this server started: a new worker speaks frame protocol {version}, "
            f"this server {protocol.VERSION}, so it cannot serve here."
        ],
        "fix": f"Restart the server (pid {os.getpid()}) so that it and its workers run the same mldeploy: start "
        "`mldeploy serve` again, or for a deployed local service stop that process and run "
        "`mldeploy service start NAME`.",
        "traceback": "",
        "permanent": True,
    }


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
        self.dispatcher = Dispatcher(config, metrics.queue_wait, self._replace, self._worn)
        self.metrics = metrics
        self.ready_count = 0
        self.info: dict[str, Any] | None = None
        self.failure: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.on_ready: Callable[[int], None] = lambda generation: None
        self.on_failed: Callable[[int, dict[str, Any]], None] = lambda generation, report: None
        self._loop = asyncio.get_running_loop()
        self._workers: set[Worker] = set()
        self._generations: list[Generation] = []
        self._numbers = itertools.count(1)
        self._spare: Worker | None = None
        self._spare_task: asyncio.Task[Worker] | None = None
        self._memory_watch: asyncio.Task[None] | None = None
        self._stopping = False
        metrics.in_flight.set_function(lambda: self.in_flight)

    @property
    def config(self) -> ServerConfig:
        """The settings of the workers now serving (a reload or a key change replaces them)."""
        return self.dispatcher.config

    @config.setter
    def config(self, config: ServerConfig) -> None:
        self.dispatcher.config = config

    # ---- requests

    def submit(self, job: Job) -> None:
        """Run one request (see ``dispatch``)."""
        self.dispatcher.submit(job)

    @property
    def in_flight(self) -> int:
        return self.dispatcher.in_flight

    def _replace(self, worker: "Worker") -> None:
        """A worker past the scoring timeout: its stack is dumped, then it is killed (and restarted)."""
        logger.error(
            "run() in worker pid %d exceeded the scoring timeout of %d ms; its stack follows, then it is replaced",
            worker.pid,
            self.config.scoring_timeout_ms,
        )
        self._signal(worker, signal.SIGUSR2)
        self._loop.call_later(STACK_DUMP_GRACE_S, self._signal, worker, signal.SIGKILL)

    # ---- recycling: a worker past its request count or memory limit is replaced, the new one first

    def _worn(self, worker: "Worker") -> None:
        self.recycle(worker, f"it answered {worker.served} requests (--max-requests-per-worker)")

    def recycle(self, worker: "Worker", why: str) -> None:
        """Start a worker to take ``worker``'s place; once it is ready, ``worker`` finishes its requests and
        exits. No request waits for a worker to start, and none fails."""
        generation = next((item for item in self._generations if item.number == worker.generation), None)
        if worker.recycled or worker.retiring or worker.replaced or generation is None:
            return
        if not self._current(generation):
            return
        worker.recycled = True
        logger.info("Recycling worker pid %d: %s; a new worker starts first", worker.pid, why)
        generation.tasks.append(asyncio.create_task(self._supervise(generation, replacing=worker)))

    def _watch_memory_soon(self, config: ServerConfig) -> None:
        if config.max_worker_rss_mb and self._memory_watch is None:
            self._memory_watch = asyncio.create_task(self._watch_memory())

    async def _watch_memory(self) -> None:
        while not self._stopping:
            await asyncio.sleep(MEMORY_CHECK_S)
            limit = self.config.max_worker_rss_mb
            for worker in [worker for worker in self._workers if worker.serving and limit]:
                resident = _resident_mib(worker.pid)
                if resident > limit:
                    self.recycle(worker, f"its resident memory, {resident:.0f} MiB, passed {limit} MiB "
                                         "(--max-worker-rss-mb)")  # fmt: skip

    def _retire(self, worker: "Worker") -> None:
        """``worker`` takes no new request, and exits once it answered those it holds."""
        worker.retiring = True
        if worker in self.dispatcher.idle:
            self.dispatcher.idle.remove(worker)
            worker.channel.close()

    # ---- generations of worker processes

    def start(self) -> None:
        self._launch(self.config)
        self._watch_memory_soon(self.config)

    def reload(self, config: ServerConfig) -> int:
        """Replace every worker by one started from ``config``, without a gap; the new generation's number."""
        logger.info("Reloading: starting %d new worker(s) for %s", config.workers, config.entry_script)
        self._watch_memory_soon(config)
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
            if kind == protocol.READY and payload.get("protocol") != protocol.VERSION:
                worker.channel.close()  # it exits on reading the end of its channel
                return protocol.INIT_FAILED, _other_version(payload.get("protocol"))
            return kind, payload
        returncode = await worker.process.wait()
        return protocol.INIT_FAILED, {
            "summary": [f"The worker process {_exit_description(returncode)} before init() finished."],
            "fix": "Check the log lines above; a worker killed while loading usually needs more memory.",
            "traceback": "",
        }

    async def _supervise(self, generation: Generation, replacing: Worker | None = None) -> None:
        """Keep one worker of ``generation`` running (with ``replacing``: first take that worker's place)."""
        init_failures = 0
        crashes = 0
        while self._current(generation):
            worker = await self._spawn(generation)
            kind, payload = await self._first_message(worker)
            if kind != protocol.READY and replacing is not None:
                await worker.process.wait()
                self._workers.discard(worker)
                replacing.recycled = False  # it keeps serving; it is recycled again at its next limit
                logger.error("The worker meant to replace pid %d failed to start; pid %d keeps serving.",
                             replacing.pid, replacing.pid)  # fmt: skip
                return
            if kind == protocol.READY:
                init_failures = 0
                if replacing is not None:
                    self._retire(replacing)
                    replacing = None
                await self._serve_until_exit(worker, generation, payload)
                if not self._current(generation) or worker.recycled:
                    return  # recycled: the worker that took its place keeps the slot
                # a worker that answered requests, or lived long, died of one request: no crash loop to slow down
                healthy = worker.served > 0 or time.monotonic() - worker.started > HEALTHY_LIFETIME_S
                crashes = 1 if healthy else crashes + 1
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
        if generation.ready:  # a worker that died could not be restarted: the serving generation goes on without it
            logger.error("A worker could not be restarted: %s %s The other workers keep serving.",
                         " ".join(report.get("summary", [])), report.get("fix", ""))  # fmt: skip
            return
        if generation.number == 1:
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
                self._retire(worker)
        self.on_ready(generation.number)
        self._keep_spare(generation)

    async def _serve_until_exit(self, worker: Worker, generation: Generation, info: dict[str, Any]) -> None:
        if not self._current(generation):
            worker.channel.close()
        elif not generation.ready:
            self._promote(generation, info)
        self.ready_count += 1
        self.metrics.workers_ready.set(self.ready_count)
        channel, dispatcher = worker.channel, self.dispatcher
        channel.on_message = partial(dispatcher.on_reply, worker)
        channel.on_stream_start = lambda head: dispatcher.on_stream_start(worker, head)
        channel.on_stream_chunk = lambda chunk: dispatcher.on_stream_chunk(worker, chunk)
        channel.on_stream_end = lambda: dispatcher.on_stream_end(worker)
        channel.expect_replies(info["headers"])
        worker.serving = True
        self.dispatcher.hand_out(worker)
        await worker.channel.closed
        worker.serving = False
        self.ready_count -= 1
        self.metrics.workers_ready.set(self.ready_count)
        self.dispatcher.fail(worker, WorkerDied())
        returncode = await worker.process.wait()
        self._workers.discard(worker)
        if self._current(generation) and not worker.recycled:
            logger.warning("Worker pid %d %s; starting a new one", worker.pid, _exit_description(returncode))

    @staticmethod
    def _signal(worker: Worker, signum: int) -> None:
        if worker.process.returncode is None:
            try:
                os.kill(worker.pid, signum)
            except ProcessLookupError:
                return

    async def stop(self, grace_s: float = WORKER_EXIT_S) -> None:
        """Close every worker's channel (they exit), then kill what is still running after ``grace_s``: the
        server's grace has passed by then, so a worker still in run() has had its time."""
        self._stopping = True
        if self._memory_watch is not None:
            self._memory_watch.cancel()
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


def _resident_mib(pid: int) -> float:
    """Resident memory of process ``pid`` (0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/statm") as statm:
            return int(statm.read().split()[1]) * PAGE_MIB
    except (OSError, IndexError, ValueError):
        return 0.0

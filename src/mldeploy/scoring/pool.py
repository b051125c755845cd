"""The worker processes of one server, supervised: start, hand out, time out, replace, restart with backoff."""

import asyncio
import logging
import os
import signal
import socket
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from . import protocol
from .config import ServerConfig
from .metrics import ServerMetrics

logger = logging.getLogger("mldeploy.pool")

STACK_DUMP_GRACE_S = 0.2
HEALTHY_LIFETIME_S = 30.0
MAX_BACKOFF_S = 10.0


class WorkerDied(Exception):
    """The worker process ended while it held a request."""


class WorkerTimedOut(Exception):
    """run() did not answer within the scoring timeout."""


class Channel(asyncio.Protocol):
    """The front's end of the socket pair to one worker: one request at a time."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._waiter: asyncio.Future[Any] | None = None
        self._transport: asyncio.Transport | None = None
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
            waiter, self._waiter = self._waiter, None
            if waiter is not None and not waiter.done():
                waiter.set_result(message)

    def connection_lost(self, exc: Exception | None) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(WorkerDied())
        if not self.closed.done():
            self.closed.set_result(None)

    def receive(self) -> "asyncio.Future[Any]":
        waiter = asyncio.get_running_loop().create_future()
        if self.closed.done():
            waiter.set_exception(WorkerDied())
        else:
            self._waiter = waiter
        return waiter

    def request(self, message: Any) -> "asyncio.Future[Any]":
        waiter = self.receive()
        if self._transport is not None and not self.closed.done():
            self._transport.write(protocol.encode(message))
        return waiter

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()


@dataclass(eq=False)
class Worker:
    slot: int
    process: asyncio.subprocess.Process
    channel: Channel
    started: float = field(default_factory=time.monotonic)
    retired: bool = False

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
        self._idle: deque[Worker] = deque()
        self._waiters: deque[asyncio.Future[Worker]] = deque()
        self._workers: dict[int, Worker] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False
        self._environment = config.worker_environment()
        self._worker_args = ["--debug-errors"] if config.debug_errors else []

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
        _, channel = await asyncio.get_running_loop().create_unix_connection(Channel, sock=front_end)
        worker = Worker(slot, process, channel)
        self._workers[slot] = worker
        return worker

    async def _supervise(self, slot: int) -> None:
        init_failures = 0
        crashes = 0
        while not self._stopping:
            worker = await self._spawn(slot)
            try:
                kind, payload = await worker.channel.receive()
            except WorkerDied:
                returncode = await worker.process.wait()
                kind, payload = (
                    protocol.INIT_FAILED,
                    {
                        "summary": [f"The worker process {_exit_description(returncode)} before init() finished."],
                        "fix": "Check the log lines above; a worker killed while loading usually needs more memory.",
                        "traceback": "",
                    },
                )
            if kind == protocol.READY:
                init_failures = 0
                await self._run_ready(worker, payload)
                if self._stopping:
                    return
                lived = time.monotonic() - worker.started
                crashes = 1 if lived > HEALTHY_LIFETIME_S else crashes + 1
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
        self.release(worker)
        await worker.channel.closed
        returncode = await worker.process.wait()
        self.ready_count -= 1
        self.metrics.workers_ready.set(self.ready_count)
        if worker in self._idle:
            self._idle.remove(worker)
        if not self._stopping:
            logger.warning("Worker pid %d %s; starting a new one", worker.pid, _exit_description(returncode))

    async def acquire(self, timeout_s: float) -> Worker | None:
        """An idle worker, or None when none frees up within ``timeout_s``."""
        if self._idle:
            return self._idle.popleft()
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            return await asyncio.wait_for(waiter, timeout_s)
        except TimeoutError:
            return None

    def release(self, worker: Worker) -> None:
        if worker.channel.closed.done():
            return
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(worker)
                return
        self._idle.append(worker)

    async def call(self, worker: Worker, message: Any, timeout_s: float) -> Any:
        """Send one request to ``worker``; WorkerDied (502) or WorkerTimedOut (504) when it cannot answer."""
        reply = worker.channel.request(message)
        timer = asyncio.get_running_loop().call_later(timeout_s, self._expire, worker, reply)
        try:
            return await reply
        finally:
            timer.cancel()

    def _expire(self, worker: Worker, reply: "asyncio.Future[Any]") -> None:
        if reply.done():
            return
        reply.set_exception(WorkerTimedOut())
        worker.retired = True
        logger.error(
            "run() in worker pid %d exceeded the scoring timeout of %d ms; its stack follows, then it is replaced",
            worker.pid,
            self.config.scoring_timeout_ms,
        )
        self._signal(worker, signal.SIGUSR2)
        asyncio.get_running_loop().call_later(STACK_DUMP_GRACE_S, self._signal, worker, signal.SIGKILL)

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

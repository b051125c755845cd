"""Admission: at most N scoring requests in flight per replica; the others wait, at most a set time (-> 503)."""

import asyncio
import time
from collections import deque

from .metrics import ServerMetrics


class Overloaded(Exception):
    """No request slot freed up within the wait limit."""


class Admission:
    def __init__(self, limit: int, max_wait_s: float, metrics: ServerMetrics) -> None:
        self.limit = limit
        self.max_wait_s = max_wait_s
        self.in_flight = 0
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._metrics = metrics

    async def enter(self) -> None:
        """Take a slot, waiting at most ``max_wait_s``; raise Overloaded otherwise."""
        if self.in_flight < self.limit and not self._waiters:
            self.in_flight += 1
            self._metrics.in_flight.inc()
            self._metrics.queue_wait.observe(0.0)
            return
        started = time.perf_counter()
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await asyncio.wait_for(waiter, self.max_wait_s)
        except TimeoutError:
            if waiter.done() and not waiter.cancelled():
                self.leave()
            raise Overloaded from None
        finally:
            self._metrics.queue_wait.observe(time.perf_counter() - started)

    def leave(self) -> None:
        """Give the slot to the oldest waiter, or free it."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        self.in_flight -= 1
        self._metrics.in_flight.dec()

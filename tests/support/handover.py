"""A port handed from one server to another: clients that send requests in a loop meanwhile, and the kernel's
behaviour when a listener sharing a port closes.

Each request of a looping client opens a new connection (a stopping server closes its kept-alive connections,
which a client must expect), and only a 503 is retried, as a client of an overloaded service would. Anything
else that is not a 200 is a failure: a refused or reset connection, a connection closed before the answer, a 502.
"""

import http.client
import socket
import threading
import time
from collections import Counter

from mldeploy.scoring import reuseport

TIMEOUT_S = 30.0


class LoopingClient:
    """``threads`` clients POSTing ``body`` to ``/score`` on 127.0.0.1:``port`` until the ``with`` block ends."""

    def __init__(self, port: int, body: bytes, headers: dict[str, str] | None = None, threads: int = 2) -> None:
        self.port = port
        self.body = body
        self.headers = {"Content-Type": "application/json", **(headers or {})}
        self.answers: Counter[bytes] = Counter()  # the bodies of the 200s
        self.failures: Counter[str] = Counter()  # by kind: an exception's name or "status N"
        self.retried = 0  # 503s
        self.last: bytes = b""  # the body of the latest 200
        self.longest_gap_s = 0.0  # the longest time without a 200
        self._answered = time.monotonic()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._loop, daemon=True) for _ in range(threads)]

    @property
    def sent(self) -> int:
        with self._lock:
            return sum(self.answers.values()) + sum(self.failures.values()) + self.retried

    def __enter__(self) -> "LoopingClient":
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(TIMEOUT_S)

    def wait_for(self, answered: int, timeout_s: float = 60.0) -> None:
        """Until ``answered`` more requests have been sent (the loop runs)."""
        goal, deadline = self.sent + answered, time.monotonic() + timeout_s
        while self.sent < goal:
            assert time.monotonic() < deadline, f"the client sent {self.sent} requests; failures: {self.failures}"
            time.sleep(0.01)

    def _loop(self) -> None:
        while not self._stop.is_set():
            status, payload, failure = self._send()
            with self._lock:
                if failure:
                    self.failures[failure] += 1
                elif status == 503:
                    self.retried += 1
                else:
                    self.answers[payload] += 1
                    self.last = payload
                    now = time.monotonic()
                    self.longest_gap_s = max(self.longest_gap_s, now - self._answered)
                    self._answered = now

    def _send(self) -> tuple[int, bytes, str | None]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=TIMEOUT_S)
        try:
            connection.request("POST", "/score", body=self.body, headers=self.headers)
            answer = connection.getresponse()
            payload = answer.read()
        except (OSError, http.client.HTTPException) as error:
            return 0, b"", type(error).__name__
        finally:
            connection.close()
        if answer.status not in (200, 503):
            return answer.status, payload, f"status {answer.status}"
        return answer.status, payload, None


def _listener(port: int) -> socket.socket:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(4096)
    return sock


def resets_on_close(connections: int, steering: bool) -> tuple[int, int]:
    """Two listeners share a port (neither accepts); ``connections`` connections are made, with the second
    listener steering them to itself or not; the first closes. (Connections it held then, connections reset.)"""
    first = _listener(0)
    port = first.getsockname()[1]
    second = _listener(port)
    if steering:
        reuseport.steer_here(second, "127.0.0.1", port)
    clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(connections)]
    queued = reuseport.queued(first)
    first.close()
    time.sleep(0.1)  # the resets cross the loopback
    resets = 0
    for client in clients:
        client.setblocking(False)
        try:
            client.recv(1)
        except ConnectionResetError:
            resets += 1
        except BlockingIOError:
            pass  # open, waiting to be accepted
        client.close()
    second.close()
    return queued, resets

"""Check the autoscaler simulation once against reality: one replica of our server (1 worker, 1 request at a
time, 500 ms queue wait) with a run() of 0.1 s, driven open-loop above its capacity; the 503 rate measured
against the rate `mldeploy plan`'s simulator predicts for the same settings.

    python bench/plan_check.py [--seconds 30] [--rates 15 25]
"""

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.servers import start_ours

from mldeploy.planning.load import preset
from mldeploy.planning.simulator import Scaling, simulate

RUN_SECONDS = "0.1"


def request_time(url: str, samples: int = 30) -> float:
    """The mean time of one request on an idle replica: what --request-time would be."""
    with httpx.Client(timeout=10) as client:
        client.post(url, content=RUN_SECONDS)
        times = []
        for _ in range(samples):
            started = time.perf_counter()
            client.post(url, content=RUN_SECONDS)
            times.append(time.perf_counter() - started)
    return statistics.mean(times)


async def open_loop(url: str, rate: float, seconds: float) -> list[int]:
    """Send ``rate`` requests per second for ``seconds``, whatever the answers; their status codes."""
    limits = httpx.Limits(max_connections=1000, max_keepalive_connections=1000)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:
        started = time.perf_counter()
        tasks = []
        for number in range(int(rate * seconds)):
            await asyncio.sleep(max(0.0, started + number / rate - time.perf_counter()))
            tasks.append(asyncio.create_task(client.post(url, content=RUN_SECONDS)))
        answers = await asyncio.gather(*tasks, return_exceptions=True)
    return [answer.status_code if isinstance(answer, httpx.Response) else 0 for answer in answers]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--rates", type=float, nargs="+", default=[15, 25])
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        server = start_ours("sleepy.py", Path(folder), Path(folder), workers=1,
                            args=["--max-concurrent-requests", "1", "--max-request-wait-ms", "500"])  # fmt: skip
        with server:
            server.wait_healthy()
            url = f"http://127.0.0.1:{server.port}/score"
            mean = request_time(url)
            print(f"request time on an idle replica: {mean * 1000:.1f} ms (capacity {1 / mean:.1f} requests/s)")
            print(f"{'requests/s':>10} {'measured 503':>13} {'predicted 503':>14}")
            for rate in arguments.rates:
                statuses = asyncio.run(open_loop(url, rate, arguments.seconds))
                measured = statuses.count(503) / len(statuses)
                others = len([status for status in statuses if status not in (200, 503)])
                scaling = Scaling(request_time_s=mean, min_replicas=1, max_replicas=1, max_wait_s=0.5)
                predicted = simulate(preset("steady", rate, arguments.seconds), scaling).rejected_fraction
                note = f"  ({others} answers neither 200 nor 503)" if others else ""
                print(f"{rate:>10g} {measured:>12.1%} {predicted:>13.1%}{note}")


if __name__ == "__main__":
    main()

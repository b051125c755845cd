"""A 500 MB answer streamed while health is checked: ``.venv/bin/python bench/large_answer.py [--mb 500]``.

Our server (2 workers, tests/fixtures/scripts/large_answer.py) sends one large answer to a client that reads it
8 MiB at a time with a 20 ms pause; meanwhile `GET /` is timed every 50 ms (a new connection each time). Prints
the health latencies and the front's peak RSS.
"""

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repository root, for tests.*

from tests.fixtures.models import build_app_root, model_dir_for
from tests.support.servers import start_ours

PIECE = 8 * 1024 * 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=500, help="size of the answer in MB (default 500)")
    size = parser.parse_args().mb * 1_000_000
    work = Path(tempfile.mkdtemp(prefix="mldeploy-large-"))
    (work / "logs").mkdir()
    server = start_ours("large_answer.py", build_app_root(work / "app"), work / "logs", model_dir=model_dir_for(1),
                        workers=2)  # fmt: skip
    try:
        server.wait_healthy()
        received, done = [0], threading.Event()

        def download() -> None:
            with httpx.stream("POST", server.url + "/score", content=str(size), timeout=300) as answer:
                for piece in answer.iter_raw(PIECE):
                    received[0] += len(piece)
                    time.sleep(0.02)
            done.set()

        threading.Thread(target=download, daemon=True).start()
        latencies = []
        while not done.is_set():
            started = time.perf_counter()
            httpx.get(server.url + "/", timeout=10)
            latencies.append((time.perf_counter() - started) * 1000)
            time.sleep(0.05)
        latencies.sort()
        with open(f"/proc/{server.process.pid}/status") as status:
            peak = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024
        print(
            f"{size / 1e6:.0f} MB answered whole: {received[0] == size}; {len(latencies)} health checks meanwhile: "
            f"median {latencies[len(latencies) // 2]:.1f} ms, max {latencies[-1]:.1f} ms; front peak RSS {peak:.0f} MiB"
        )
    finally:
        server.stop()


if __name__ == "__main__":
    main()

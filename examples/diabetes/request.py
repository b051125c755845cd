"""Wait for the service at URL to be healthy, then score the seed's test_sample and print the answer."""

import json
import sys
import time
import urllib.error
import urllib.request


def wait_healthy(url: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "/", timeout=2) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.2)
    raise SystemExit(f"the service at {url} did not become healthy in {timeout_s} s")


def main() -> None:
    url = sys.argv[1]
    wait_healthy(url)
    test_sample = json.dumps({"data": [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10], [10, 9, 8, 7, 6, 5, 4, 3, 2, 1]]})
    request = urllib.request.Request(url + "/score", data=test_sample.encode(), method="POST")
    with urllib.request.urlopen(request, timeout=30) as answer:
        print(f"POST {url}/score -> {answer.status}")
        print(answer.read().decode())


if __name__ == "__main__":
    main()

"""Reading a service's own pages (/metrics, /swagger.json) the way this machine reaches it."""

import urllib.error
import urllib.request

from ..workspace.services import ServiceRecord

READ_TIMEOUT_S = 3
DIRECT = ("local", "docker")  # served on this host's 127.0.0.1


class Unreachable(Exception):
    """The service's page could not be read; the message says why and what to do, in the reader's words."""


def read(record: ServiceRecord, path: str) -> tuple[int, bytes]:
    """GET ``path`` of the service: (status, body). Unreachable when nothing answers."""
    if record.target not in DIRECT:
        raise Unreachable(
            f"The console reads {path} of local and Docker services only; service {record.name!r} runs on "
            f"{record.target}. Its state, log, test form and diagnosis work as for the others."
        )
    url = f"http://127.0.0.1:{record.port}{path}"
    try:
        with urllib.request.urlopen(url, timeout=READ_TIMEOUT_S) as answer:
            return answer.status, bytes(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, bytes(error.read())
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise Unreachable(f"Service {record.name!r} did not answer at {url} ({reason}): is it running?") from None

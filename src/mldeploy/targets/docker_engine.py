"""Connecting to the Docker engine through the official client, with a plain-words error when it is absent."""

from typing import Any

from ..errors import DockerUnavailable

START_HINT = (
    "Start it (as root): `dockerd --bridge=none --iptables=false &`, or `systemctl start docker`; "
    "install it with `apt-get install docker.io`. Set DOCKER_HOST if your engine listens elsewhere."
)


def connect() -> Any:
    """A ``docker.DockerClient`` that answered a ping, or DockerUnavailable saying how to start the engine."""
    import docker
    from docker.errors import DockerException

    try:
        client = docker.from_env(timeout=30)
        client.ping()
    except DockerException as error:
        reason = str(error).split("(")[0].strip()
        raise DockerUnavailable(f"The Docker engine does not answer ({reason}). {START_HINT}") from None
    return client

"""The host's package-index settings, read from pip's configuration at run time, handed to uv and to builds."""

import functools
import subprocess
import sys

# pip setting -> uv environment variable
UV_VARIABLES = {
    "index-url": "UV_DEFAULT_INDEX",
    "extra-index-url": "UV_INDEX",
    "find-links": "UV_FIND_LINKS",
    "cert": "SSL_CERT_FILE",
}


@functools.cache
def pip_settings() -> dict[str, str]:
    """pip's effective settings (files and PIP_* variables), e.g. {"index-url": "...", "cert": "..."}."""
    result = subprocess.run(
        [sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True, check=False
    )
    settings: dict[str, str] = {}
    for line in result.stdout.splitlines():
        key, _, value = line.partition("=")
        name = key.rsplit(".", 1)[-1]
        if name in UV_VARIABLES:
            settings[name] = value.strip().strip("'\"")
    return settings


def uv_environment() -> dict[str, str]:
    """uv settings equal to the host's pip settings; like pip, every index is searched for the best match."""
    settings = {UV_VARIABLES[name]: value for name, value in pip_settings().items()}
    return {**settings, "UV_INDEX_STRATEGY": "unsafe-best-match"}


def container_pip_conf(ca_path: str) -> str:
    """A pip.conf for builds inside containers: the host's network indexes, its CA bundle at ``ca_path``
    (local file indexes and find-links folders do not exist there and are left out)."""
    settings = pip_settings()
    lines = ["[global]", f"cert = {ca_path}"]
    for name in ("index-url", "extra-index-url", "find-links"):
        urls = [url for url in settings.get(name, "").split() if url.startswith(("http://", "https://"))]
        if urls:
            lines.append(f"{name} = {' '.join(urls)}")
    return "\n".join(lines) + "\n"


def host_ca_bundle() -> str:
    return pip_settings().get("cert") or "/etc/ssl/certs/ca-certificates.crt"

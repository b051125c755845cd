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

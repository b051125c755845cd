"""The host's package-index settings, read from pip's configuration at run time, handed to uv and to builds."""

import functools
import subprocess
import sys
from urllib.parse import unquote, urlsplit

# pip setting -> uv environment variable
UV_VARIABLES = {
    "index-url": "UV_DEFAULT_INDEX",
    "extra-index-url": "UV_INDEX",
    "find-links": "UV_FIND_LINKS",
    "cert": "SSL_CERT_FILE",
}
URL_SETTINGS = ("index-url", "extra-index-url", "find-links")
# `pip config list` prints "<section>.<name>" (sorted by name, not by weight); pip lets a PIP_* variable
# (section ":env:") override the files, and a file's [install] section (what `pip install` reads) its [global] one
SECTION_WEIGHT = {"global": 0, "install": 1, ":env:": 2}


@functools.cache
def pip_settings() -> dict[str, str]:
    """pip's effective settings (files and PIP_* variables), e.g. {"index-url": "...", "cert": "..."}."""
    result = subprocess.run(
        [sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True, check=False
    )
    found: dict[str, tuple[int, str]] = {}
    for line in result.stdout.splitlines():
        key, _, value = line.partition("=")
        section, _, name = key.rpartition(".")
        weight = SECTION_WEIGHT.get(section)
        if name in UV_VARIABLES and weight is not None and weight >= found.get(name, (-1, ""))[0]:
            found[name] = (weight, value.strip().strip("'\""))
    return {name: value for name, (_, value) in found.items()}


def uv_environment() -> dict[str, str]:
    """uv settings equal to the host's pip settings; like pip, every index is searched for the best match."""
    settings = {UV_VARIABLES[name]: value for name, value in pip_settings().items()}
    return {**settings, "UV_INDEX_STRATEGY": "unsafe-best-match"}


def _network_urls(name: str) -> list[str]:
    return [url for url in pip_settings().get(name, "").split() if url.startswith(("http://", "https://"))]


def container_pip_settings(ca_path: str) -> dict[str, str]:
    """pip's settings for builds inside containers: the host's network indexes, its CA bundle at ``ca_path``
    (local file indexes and find-links folders do not exist there and are left out). They keep the indexes'
    credentials, so no layer of any image may hold them."""
    settings = {"cert": ca_path}
    for name in URL_SETTINGS:
        urls = _network_urls(name)
        if urls:
            settings[name] = " ".join(urls)
    return settings


def container_pip_conf(ca_path: str) -> str:
    """``container_pip_settings`` as a pip.conf, for a build stage that no image keeps."""
    lines = ["[global]", *(f"{name} = {value}" for name, value in container_pip_settings(ca_path).items())]
    return "\n".join(lines) + "\n"


def index_credentials() -> list[str]:
    """The secrets in the host's index URLs (``https://user:secret@host/simple`` gives "secret"; a token alone,
    ``https://token@host``, gives "token"), as written and decoded, for checking that no image holds them."""
    secrets: set[str] = set()
    for name in URL_SETTINGS:
        for url in _network_urls(name):
            parts = urlsplit(url)
            secret = parts.password if parts.password is not None else parts.username
            if secret:
                secrets |= {secret, unquote(secret)}
    return sorted(secrets)


def host_ca_bundle() -> str:
    return pip_settings().get("cert") or "/etc/ssl/certs/ca-certificates.crt"

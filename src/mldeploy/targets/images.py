"""The base image (Debian + Python), made here because there is no registry to pull from.

mmdebstrap builds a minimal root file system from the host's own apt sources (``/etc/apt/sources.list``
and ``sources.list.d``), and ``docker import`` turns it into an image, once: the tag carries a hash of the
sources and the package list, so the same host reuses it.
"""

import hashlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import DockerUnavailable

BASE_REPOSITORY = "mldeploy/base"
BASE_PACKAGES = ("python3", "python3-venv", "ca-certificates")
APT_SOURCES = (Path("/etc/apt/sources.list"), Path("/etc/apt/sources.list.d"))


def host_apt_sources() -> list[Path]:
    """The enabled apt source files of this host, in apt's order."""
    files: list[Path] = []
    single, folder = APT_SOURCES
    if single.is_file() and any(line.strip() and not line.startswith("#") for line in single.read_text().splitlines()):
        files.append(single)
    if folder.is_dir():
        files += sorted(path for path in folder.iterdir() if path.suffix in (".list", ".sources"))
    if not files:
        raise DockerUnavailable("This host has no apt sources (/etc/apt/sources.list[.d]) to build the base image.")
    return files


def _codename() -> str:
    for line in Path("/etc/os-release").read_text().splitlines():
        if line.startswith("VERSION_CODENAME="):
            return line.split("=", 1)[1].strip('"')
    raise DockerUnavailable("Cannot tell this host's Debian release (no VERSION_CODENAME in /etc/os-release).")


def base_tag() -> str:
    sources = host_apt_sources()
    key = "\n".join([_codename(), *BASE_PACKAGES, *(path.read_text() for path in sources)])
    return f"{BASE_REPOSITORY}:{_codename()}-{hashlib.sha256(key.encode()).hexdigest()[:12]}"


def base_image(client: Any, progress: Callable[[str], None]) -> str:
    """The base image's tag, building it the first time (about 20 s on a warm apt cache)."""
    from docker.errors import ImageNotFound

    tag = base_tag()
    try:
        client.images.get(tag)
        return tag
    except ImageNotFound:
        pass
    if shutil.which("mmdebstrap") is None:
        raise DockerUnavailable("Building the base image needs mmdebstrap: `apt-get install mmdebstrap`.")
    if os.geteuid() != 0:
        raise DockerUnavailable("Building the base image with mmdebstrap needs root (run once as root).")
    progress(f"building the base image {tag} from the host's apt sources")
    with tempfile.TemporaryDirectory(prefix="mldeploy-base-") as folder:
        tarball = Path(folder) / "rootfs.tar"
        command = ["mmdebstrap", "--variant=minbase", "--mode=root", f"--include={','.join(BASE_PACKAGES)}",
                   _codename(), str(tarball), *map(str, host_apt_sources())]  # fmt: skip
        built = subprocess.run(command, capture_output=True, text=True)
        if built.returncode != 0:
            raise DockerUnavailable(f"mmdebstrap failed:\n{built.stderr[-2000:]}")
        repository, _, version = tag.partition(":")
        client.api.import_image_from_file(str(tarball), repository=repository, tag=version)
    return tag

"""Content-addressed, immutable files: ``blobs/sha256/ab/cdef…``.

A blob is written to a temporary file, fsynced, renamed into place and its folder fsynced, so a blob
that exists is complete. Identical content is stored once.
"""

import hashlib
import os
import re
import shutil
import tempfile
from pathlib import Path

from ..errors import UnsafeModelPath
from .paths import inside

CHUNK = 1 << 20
DIGEST = re.compile(r"[0-9a-f]{64}")


def _fsync_dir(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


class BlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root / "sha256"
        self.staging = root / "staging"

    def path(self, sha256: str) -> Path:
        if not DIGEST.fullmatch(sha256):
            raise UnsafeModelPath(
                f"{sha256!r} is not a SHA-256 digest, so it names no blob of this workspace; the workspace database "
                "was altered: register the model again."
            )
        return self.root / sha256[:2] / sha256[2:]

    def put(self, source: Path) -> tuple[str, int]:
        """Store ``source``'s content durably; (sha256, size)."""
        self.staging.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        size = 0
        with source.open("rb") as reader, tempfile.NamedTemporaryFile(dir=self.staging, delete=False) as staged:
            try:
                while chunk := reader.read(CHUNK):
                    digest.update(chunk)
                    staged.write(chunk)
                    size += len(chunk)
                staged.flush()
                os.fsync(staged.fileno())
            except BaseException:
                os.unlink(staged.name)
                raise
        sha256 = digest.hexdigest()
        target = self.path(sha256)
        if target.exists():
            os.unlink(staged.name)
            os.utime(target)  # stored again: fresh, so a prune running now keeps it until the model row is written
            return sha256, size
        target.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(staged.name, 0o444)
        os.replace(staged.name, target)
        _fsync_dir(target.parent)
        return sha256, size

    def copy_into(self, sha256: str, folder: Path, relative: str, executable: bool = False) -> Path:
        """Write the blob to ``folder / relative``, refusing a destination that resolves outside ``folder``."""
        destination = inside(folder, relative)
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self.path(sha256), destination)
        destination.chmod(0o755 if executable else 0o644)
        return destination

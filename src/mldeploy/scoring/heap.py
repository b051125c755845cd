"""The front's heap (glibc's malloc), set so that the memory of request bodies goes back to the system.

glibc serves blocks of ``M_MMAP_THRESHOLD`` or more with their own mapping, and raises that threshold (up to 32
MiB) each time it frees such a block: bodies below the raised threshold then live in the heap, where a growing
one is copied to grow (briefly held twice) and a freed one stays with the process (only the heap's top is
given back). ``fix_threshold`` pins it at ``MMAP_FROM`` once, at start: every larger body is its own mapping,
grown in place (mremap) and unmapped as soon as it is let go. ``trim`` gives back the free pages that smaller
bodies leave inside the heap. Elsewhere than glibc both do nothing.
"""

import ctypes

M_MMAP_THRESHOLD = -3  # mallopt's parameter (malloc.h)
MMAP_FROM = 256 * 1024  # above a read of the event loop (256,000 bytes): reads stay in the heap, reused at once

try:
    _libc: ctypes.CDLL | None = ctypes.CDLL(None)
except OSError:
    _libc = None
_mallopt = getattr(_libc, "mallopt", None)
_malloc_trim = getattr(_libc, "malloc_trim", None)


def fix_threshold() -> None:
    if _mallopt is not None:
        _mallopt(M_MMAP_THRESHOLD, MMAP_FROM)


def trim() -> None:
    if _malloc_trim is not None:
        _malloc_trim(0)

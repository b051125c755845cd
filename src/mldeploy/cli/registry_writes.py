"""How commands that write to the registry (models, environments) report what stopped them."""

from collections.abc import Iterator
from contextlib import contextmanager

from ..errors import InvalidName, ModelError, StoreError
from .output import fail

EXIT_WRITE_FAILED = 1


@contextmanager
def registry_write() -> Iterator[None]:
    """Bad input (a name, a model path or link) exits 2; a write that could not be made (the workspace
    database stayed locked by another process) exits 1. Either way: the message, no traceback."""
    try:
        yield
    except (ModelError, InvalidName) as error:
        fail(str(error))
    except StoreError as error:
        fail(str(error), EXIT_WRITE_FAILED)

"""torch 2.13 (CPU) beside the reference server, in a cached venv: the library a full-model pickle meets today."""

from pathlib import Path

import pytest

from tests.support.reference import _requirements, cached_venv

TORCH = "torch==2.13.0"  # the CPU build this machine keeps on disk; torch >= 2.6 loads with weights_only=True


def torch_python() -> Path:
    """The venv's interpreter; the test is skipped, with the reason, when torch cannot be installed here."""
    try:
        return cached_venv("legacy-torch", [*_requirements(), TORCH]) / "bin" / "python"
    except RuntimeError as error:
        pytest.skip(f"{TORCH} cannot be installed here, so the torch fixture cannot run: {error}")

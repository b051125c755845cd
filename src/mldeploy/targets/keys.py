"""Service keys (``auth_enabled=True``): a primary and a secondary key, as v1 services have."""

import secrets
from typing import Any

from ..errors import DeploymentError

KEY_NAMES = ("Primary", "Secondary")


def new_key() -> str:
    return secrets.token_urlsafe(24)


def keys_for(settings: dict[str, Any], current: list[str]) -> list[str]:
    """The keys a deployment serves with: none without auth, else the given ones, the current ones, or new."""
    if not settings.get("auth_enabled"):
        return []
    primary = settings.get("primary_key") or (current[0] if current else new_key())
    secondary = settings.get("secondary_key") or (current[1] if len(current) > 1 else new_key())
    return [primary, secondary]


def key_index(name: str) -> int:
    """0 for "Primary", 1 for "Secondary" (any case); DeploymentError naming both otherwise."""
    for index, known in enumerate(KEY_NAMES):
        if name.lower() == known.lower():
            return index
    raise DeploymentError(f"Unknown key {name!r}: regen_key takes 'Primary' or 'Secondary'.")

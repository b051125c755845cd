"""What a prune removes, and how recent a file must be to be kept: apart from the pruning itself, so that the
CLI reads them without loading the registry's database layer (``mldeploy serve`` runs in the same process)."""

from dataclasses import dataclass

DEFAULT_MIN_AGE_S = 3600.0  # files changed more recently than this may belong to a live registration or build


@dataclass(frozen=True)
class Removal:
    kind: str  # blob, environment, staging, image
    what: str  # a path, or an image tag
    size: int  # bytes freed

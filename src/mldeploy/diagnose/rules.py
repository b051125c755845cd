"""Every rule, in the order a failing deployment meets them; ``diagnose`` runs them all."""

from collections.abc import Callable

from .containers import crash_loop, image_pull, out_of_memory
from .model import ClusterState, Diagnosis
from .scheduling import failed_scheduling

RULES: tuple[Callable[[ClusterState], Diagnosis | None], ...] = (
    failed_scheduling,
    image_pull,
    out_of_memory,
    crash_loop,
)


def diagnose(state: ClusterState) -> list[Diagnosis]:
    return [diagnosis for rule in RULES if (diagnosis := rule(state)) is not None]

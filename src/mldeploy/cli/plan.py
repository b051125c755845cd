"""``mldeploy plan``: replicas needed (the seed's formula) and, for a load curve, the autoscaler simulated."""

from pathlib import Path
from typing import Annotated

import typer

from .output import Format, OutputOption, fail, out, show

ROWS = 12


def plan(
    target_rps: Annotated[float, typer.Option(help="Requests per second to serve.")],
    request_time: Annotated[float, typer.Option(help="Seconds one request takes.")],
    max_concurrent: Annotated[int, typer.Option(help="replica_max_concurrent_requests.")] = 1,
    target_utilization: Annotated[float, typer.Option(help="0.7 or 70 (autoscale_target_utilization).")] = 0.7,
    load: Annotated[
        str | None, typer.Option(help="Simulate a load curve: steady, ramp, spike, or a CSV of 'seconds,rps'.")
    ] = None,
    duration: Annotated[float, typer.Option(help="Seconds simulated for a preset curve.")] = 600,
    min_replicas: Annotated[int, typer.Option(help="autoscale_min_replicas.")] = 1,
    max_replicas: Annotated[int, typer.Option(help="autoscale_max_replicas.")] = 10,
    refresh: Annotated[float, typer.Option(help="autoscale_refresh_seconds.")] = 1,
    max_wait_ms: Annotated[float, typer.Option(help="max_request_wait_time (ms).")] = 500,
    pod_start: Annotated[float, typer.Option(help="Seconds from scale-up to a ready pod.")] = 30,
    plot: Annotated[Path | None, typer.Option(help="Write the simulation as a PNG here.")] = None,
    output: OutputOption = Format.table,
) -> None:
    """How many replicas a request rate needs; with --load, the 503s the autoscaler lets through, and the
    autoscale_min_replicas or autoscale_target_utilization that removes them."""
    from ..planning import load as loads
    from ..planning.advice import advise
    from ..planning.replicas import replicas_needed, utilization_fraction
    from ..planning.simulator import Scaling

    try:
        utilization = utilization_fraction(target_utilization)
        needed = replicas_needed(target_rps, request_time, max_concurrent, utilization)
        curve = None
        if load is not None:
            curve = loads.preset(load, target_rps, duration) if load in loads.PRESETS else loads.from_file(Path(load))
    except (ValueError, OSError) as error:
        fail(str(error))
    out.print(
        f"Replicas needed for {target_rps:g} requests/s of {request_time:g} s at {utilization:.0%} utilization, "
        f"{max_concurrent} concurrent per replica: [bold]{needed}[/bold]  "
        f"(ceil({target_rps:g} * {request_time:g} / {utilization:g} / {max_concurrent}))",
        highlight=False,
    )
    if curve is None:
        return
    scaling = Scaling(request_time, max_concurrent, utilization, min_replicas, max_replicas, refresh,
                      max_wait_ms / 1000, pod_start)  # fmt: skip
    advice = advise(curve, scaling)
    seconds = advice.baseline.seconds
    every = max(1, len(seconds) // ROWS)
    rows = [{"second": s.t, "requests/s": round(s.rps, 1), "ready replicas": s.ready_replicas,
             "in flight": round(s.in_flight, 1), "503 %": round(100 * s.rejected_fraction, 1)}
            for s in seconds[every - 1 :: every]]  # fmt: skip
    show(rows, list(rows[0]) if rows else [], output, title=f"Simulated autoscaler, load: {load}")
    out.print(f"503s overall: {100 * advice.baseline.rejected_fraction:.1f} % of the requests", highlight=False)
    if advice.has_503s:
        if advice.min_replicas is not None:
            out.print(f"Removes them: autoscale_min_replicas={advice.min_replicas}", highlight=False)
        if advice.target_utilization is not None:
            out.print(f"Removes them: autoscale_target_utilization={advice.target_utilization * 100:.0f}",
                      highlight=False)  # fmt: skip
        if advice.min_replicas is None and advice.target_utilization is None:
            out.print("No setting tried removes them: raise autoscale_max_replicas or shorten the requests.")
    if plot is not None:
        from ..planning.plot import save_plot

        save_plot(advice.baseline, scaling, plot, f"{load}: {target_rps:g} requests/s of {request_time:g} s")
        out.print(f"Plot: {plot}", highlight=False)

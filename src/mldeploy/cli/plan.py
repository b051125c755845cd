"""``mldeploy plan``: replicas needed (the seed's formula) and, for a load curve, the autoscaler simulated.

Tables and prose for people; with ``--output json`` one JSON document on stdout holding all of it."""

import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer

from ..planning.bounds import BOUNDS
from .deploy import utilization
from .output import Format, OutputOption, fail, out, say, show

ROWS = 12


def _bounded(param: typer.CallbackParam, value: float) -> float:
    """Refuse a value outside the planner's bounds (planning/bounds.py), naming the flag and what to give."""
    bound = BOUNDS[str(param.name)]
    if not bound.allows(value):
        fail(f"{param.opts[0]} {value:g}: give {bound.wanted}.")
    return value


def _curve(load: str, target_rps: float, duration: float):  # type: ignore[no-untyped-def]
    from ..planning import load as loads

    if load in loads.PRESETS:
        return loads.preset(load, target_rps, duration)
    if not Path(load).is_file():
        fail(f"--load {load!r} is neither a preset ({', '.join(loads.PRESETS)}) nor a CSV file of 'seconds,rps' "
             "rows that exists.")  # fmt: skip
    try:
        return loads.from_file(Path(load))
    except (ValueError, OSError, UnicodeDecodeError) as error:
        fail(str(error))


def _check_plot(plot: Path) -> None:
    """Refuse, before simulating, a plot that cannot be written: a format matplotlib lacks, or a folder that
    does not exist or cannot be written to."""
    from matplotlib.figure import Figure

    formats = Figure().canvas.get_supported_filetypes()
    suffix = plot.suffix.lstrip(".").lower()
    if suffix not in formats:
        fail(f"--plot {plot}: matplotlib cannot write {suffix or 'a file without a suffix'!r}; end the name with one "
             f"of .{', .'.join(sorted(formats))}, e.g. plan.png.")  # fmt: skip
    folder = plot.parent
    if not folder.is_dir() or not os.access(folder, os.W_OK) or (plot.exists() and not os.access(plot, os.W_OK)):
        fail(f"--plot {plot} cannot be written: {folder} is not a folder you can write to; name a file in one.")


def _advice_lines(advice, scaling) -> list[str]:  # type: ignore[no-untyped-def]
    """What removes the 503s, in flags of `mldeploy plan` and `mldeploy deploy --target kubernetes`."""
    lines = []
    if advice.capped:
        lines.append(f"--max-replicas {scaling.max_replicas} caps the autoscaler: the 503s come while every allowed "
                     "replica is running.")  # fmt: skip
    if advice.max_replicas is not None:
        lines.append(f"Removes them: --max-replicas {advice.max_replicas}")
    if advice.min_replicas is not None:
        raised = f" --max-replicas {advice.min_replicas}" if advice.min_replicas > scaling.max_replicas else ""
        lines.append(f"Removes them: --min-replicas {advice.min_replicas}{raised}")
    if advice.target_utilization is not None:
        lines.append(f"Removes them: --target-utilization {advice.target_utilization * 100:.0f}")
    if len(lines) == int(advice.capped):
        lines.append("No setting tried removes them: raise --max-replicas further, or shorten the requests.")
    return lines


def plan(
    target_rps: Annotated[float, typer.Option(callback=_bounded, help="Requests per second to serve.")],
    request_time: Annotated[float, typer.Option(callback=_bounded, help="Seconds one request takes.")],
    max_concurrent: Annotated[int, typer.Option(callback=_bounded, help="replica_max_concurrent_requests.")] = 1,
    target_utilization: Annotated[
        float, typer.Option(callback=utilization, help="0.7 or 70 (autoscale_target_utilization).")
    ] = 0.7,
    load: Annotated[
        str | None, typer.Option(help="Simulate a load curve: steady, ramp, spike, or a CSV of 'seconds,rps'.")
    ] = None,
    duration: Annotated[float, typer.Option(callback=_bounded, help="Seconds simulated for a preset curve.")] = 600,
    min_replicas: Annotated[int, typer.Option(callback=_bounded, help="autoscale_min_replicas.")] = 1,
    max_replicas: Annotated[int, typer.Option(callback=_bounded, help="autoscale_max_replicas.")] = 10,
    refresh: Annotated[float, typer.Option(callback=_bounded, help="autoscale_refresh_seconds.")] = 1,
    max_wait_ms: Annotated[float, typer.Option(callback=_bounded, help="max_request_wait_time (ms).")] = 500,
    pod_start: Annotated[float, typer.Option(callback=_bounded, help="Seconds from scale-up to a ready pod.")] = 30,
    plot: Annotated[Path | None, typer.Option(help="Write the simulation as an image here (.png, .svg, .pdf).")] = None,
    output: OutputOption = Format.table,
) -> None:
    """How many replicas a request rate needs; with --load, the 503s the autoscaler lets through, and the
    --min-replicas, --target-utilization or --max-replicas that removes them."""
    from ..planning.advice import advise
    from ..planning.replicas import replicas_needed, utilization_fraction
    from ..planning.simulator import Scaling

    fraction = utilization_fraction(target_utilization)
    if min_replicas > max_replicas:
        fail(f"--min-replicas {min_replicas} is more than --max-replicas {max_replicas}.")
    if plot is not None and load is None:
        fail("--plot draws a simulation: give --load too (steady, ramp, spike or a CSV file).")
    curve = _curve(load, target_rps, duration) if load is not None else None
    if plot is not None:
        _check_plot(plot)
    needed = replicas_needed(target_rps, request_time, max_concurrent, fraction)
    result: dict[str, Any] = {
        "replicas_needed": needed,
        "formula": f"ceil({target_rps:g} * {request_time:g} / {fraction:g} / {max_concurrent})",
    }
    summary = (f"Replicas needed for {target_rps:g} requests/s of {request_time:g} s at {fraction:.0%} "
               f"utilization, {max_concurrent} concurrent per replica: {needed}  ({result['formula']})")  # fmt: skip
    if curve is None:
        _report(result, [], summary, [], output)
        return
    scaling = Scaling(request_time, max_concurrent, fraction, min_replicas, max_replicas, refresh,
                      max_wait_ms / 1000, pod_start)  # fmt: skip
    advice = advise(curve, scaling)
    rows = [{"second": s.t, "requests/s": round(s.rps, 1), "ready replicas": s.ready_replicas,
             "in flight": round(s.in_flight, 1), "503 %": round(100 * s.rejected_fraction, 1)}
            for s in advice.baseline.seconds]  # fmt: skip
    lines = [f"503s overall: {100 * advice.baseline.rejected_fraction:.1f} % of the requests"]
    lines += _advice_lines(advice, scaling) if advice.has_503s else []
    result["simulation"] = {"load": load, "seconds": rows, "rejected_percent": 100 * advice.baseline.rejected_fraction}
    result["advice"] = {"capped_by_max_replicas": advice.capped, "max_replicas": advice.max_replicas,
                        "min_replicas": advice.min_replicas, "target_utilization": advice.target_utilization,
                        "lines": lines}  # fmt: skip
    if plot is not None:
        from ..planning.plot import save_plot

        try:
            save_plot(advice.baseline, scaling, plot, f"{load}: {target_rps:g} requests/s of {request_time:g} s")
        except (OSError, ValueError) as error:
            fail(f"--plot {plot} cannot be written: {error}")
        result["plot"] = str(plot)
        lines.append(f"Plot: {plot}")
    every = max(1, len(rows) // ROWS)
    _report(result, rows[every - 1 :: every], summary, lines, output, f"Simulated autoscaler, load: {load}")


def _report(result: dict[str, Any], rows: list[dict[str, Any]], summary: str, lines: list[str], output: Format,
            title: str = "") -> None:  # fmt: skip
    if output is Format.json:
        typer.echo(json.dumps(result, indent=2))
        return
    prose = say if output is Format.plain else lambda text: out.print(text, highlight=False, markup=False)
    prose(summary)
    if rows:
        show(rows, list(rows[0]), output, title=title)
    for line in lines:
        prose(line)

"""The simulation as a PNG: load against capacity, replicas, and the 503 rate over time (matplotlib)."""

from pathlib import Path

from .simulator import Scaling, Simulation


def save_plot(simulation: Simulation, scaling: Scaling, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    times = [second.t for second in simulation.seconds]
    figure, (load, replicas, rejected) = pyplot.subplots(3, 1, sharex=True, figsize=(9, 7))
    load.plot(times, [second.rps for second in simulation.seconds], label="requests/s")
    capacity = [
        second.ready_replicas * scaling.max_concurrent / scaling.request_time_s for second in simulation.seconds
    ]
    load.plot(times, capacity, label="capacity (ready replicas)")
    load.set_ylabel("requests/s")
    load.legend(loc="upper left")
    replicas.step(times, [second.ready_replicas for second in simulation.seconds], where="post")
    replicas.set_ylabel("ready replicas")
    rejected.fill_between(times, [100 * second.rejected_fraction for second in simulation.seconds], color="tab:red")
    rejected.set_ylabel("503 (%)")
    rejected.set_xlabel("seconds")
    figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    pyplot.close(figure)

"""Worker-side commands of ``interestgraph`` (joined through the ``interestgraph.commands`` entry
points): ``worker`` and ``beat``."""

from __future__ import annotations

import os

import click

from interest_graph.settings import Settings


@click.command()
@click.option("--concurrency", "-c", type=click.IntRange(min=1), default=1, show_default=True,
              help="Worker processes (each trains on its own; one is right for one CPU box).")
@click.option("--pool", type=click.Choice(["prefork", "solo", "threads"]), default="prefork",
              show_default=True)
@click.option("--loglevel", "-l", default="INFO", show_default=True)
@click.option("--hostname", "-n", default=None, help="Worker node name (default: celery@host).")
@click.option("--nice", type=click.IntRange(0, 19), default=None,
              help="Scheduling priority to run at (default: WORKER_NICE, 10; 0 keeps the "
                   "caller's).")
@click.pass_obj
def worker(settings: Settings, concurrency: int, pool: str, loglevel: str,
           hostname: str | None, nice: int | None) -> None:
    """Run a Celery worker for refresh tasks (broker: the embedded server unless configured).

    The worker lowers its own priority (and so its pool's, which inherit it) so that a refresh
    training beside the API and the store on one machine takes the CPU they leave idle, instead
    of delaying their answers.
    """
    from .celery_app import app, configure

    configure(settings)
    lower_priority(settings.worker_nice if nice is None else nice)
    argv = ["worker", f"--concurrency={concurrency}", f"--pool={pool}", f"--loglevel={loglevel}",
            "--queues=interest", "--without-gossip", "--without-mingle"]
    if hostname:
        argv.append(f"--hostname={hostname}")
    app.worker_main(argv)


def lower_priority(nice: int) -> None:
    """Run at nice value ``nice`` unless already lower in priority (a nice value never rises)."""
    if nice > os.getpriority(os.PRIO_PROCESS, 0):
        os.setpriority(os.PRIO_PROCESS, 0, nice)


@click.command()
@click.option("--loglevel", "-l", default="INFO", show_default=True)
@click.pass_obj
def beat(settings: Settings, loglevel: str) -> None:
    """Run the scheduler: incremental refreshes every INCREMENTAL_EVERY seconds, a full one nightly."""
    from .celery_app import app, configure

    configure(settings)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    app.start(["beat", f"--loglevel={loglevel}",
               f"--schedule={settings.data_dir / 'celerybeat-schedule'}"])

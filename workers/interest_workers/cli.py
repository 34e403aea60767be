"""Worker-side commands of ``interestgraph`` (joined through the ``interestgraph.commands`` entry
points): ``worker`` and ``beat``."""

from __future__ import annotations

import click

from interest_graph.settings import Settings


@click.command()
@click.option("--concurrency", "-c", type=click.IntRange(min=1), default=1, show_default=True,
              help="Worker processes (each trains on its own; one is right for one CPU box).")
@click.option("--pool", type=click.Choice(["prefork", "solo", "threads"]), default="prefork",
              show_default=True)
@click.option("--loglevel", "-l", default="INFO", show_default=True)
@click.option("--hostname", "-n", default=None, help="Worker node name (default: celery@host).")
@click.pass_obj
def worker(settings: Settings, concurrency: int, pool: str, loglevel: str,
           hostname: str | None) -> None:
    """Run a Celery worker for refresh tasks (broker: the embedded server unless configured)."""
    from .celery_app import app, configure

    configure(settings)
    argv = ["worker", f"--concurrency={concurrency}", f"--pool={pool}", f"--loglevel={loglevel}",
            "--queues=interest", "--without-gossip", "--without-mingle"]
    if hostname:
        argv.append(f"--hostname={hostname}")
    app.worker_main(argv)


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

"""The ``interestgraph`` commands that run things: the embedded server, the API and ``up``.

``server start|stop|status`` manage the embedded FalkorDB/Redis, ``serve`` the HTTP API
(gunicorn, or Flask's server with ``--dev``), ``up`` all of it with a worker and the scheduler
on one machine. :mod:`interest_graph.cli` adds them to the ``interestgraph`` group.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from .settings import Settings

if TYPE_CHECKING:
    from .server import EmbeddedServer


def settings_of(ctx: click.Context) -> Settings:
    """The settings the ``interestgraph`` group read from the environment."""
    settings = ctx.obj
    assert isinstance(settings, Settings)
    return settings


# -- embedded server -----------------------------------------------------------------------


@click.group()
def server() -> None:
    """Start, stop or inspect the embedded server (FalkorDB and the Celery broker's Redis)."""


def _embedded(settings: Settings) -> EmbeddedServer:
    """The embedded server, which is the graph store, the broker (BROKER_URL unset), or both."""
    from .server import EmbeddedServer

    if not settings.target().embedded and settings.broker_url:
        raise click.ClickException(
            "INTERESTGRAPH_GRAPH_URI and INTERESTGRAPH_BROKER_URL point at external servers; "
            "there is no embedded server to manage"
        )
    return EmbeddedServer(settings.data_dir, settings.embedded_port)


@server.command("start")
@click.pass_context
def server_start(ctx: click.Context) -> None:
    """Start the server for the data directory (or report the one already running)."""
    status = _embedded(settings_of(ctx)).start()
    click.echo(f"embedded server running: pid {status.pid}, {status.redis_url}, data {status.data_dir}")


@server.command("stop")
@click.pass_context
def server_stop(ctx: click.Context) -> None:
    """Stop the server cleanly (the append-only file is flushed)."""
    stopped = _embedded(settings_of(ctx)).stop()
    click.echo("embedded server stopped" if stopped else "no embedded server was running")


@server.command("status")
@click.pass_context
def server_status(ctx: click.Context) -> None:
    """Say whether the server is running; exit status 1 if not."""
    status = _embedded(settings_of(ctx)).status()
    if status is None:
        click.echo(f"no embedded server running for {settings_of(ctx).data_dir}")
        ctx.exit(1)
    click.echo(f"running: pid {status.pid}, {status.redis_url}, data {status.data_dir}")


def _require_keys_or_dev(settings: Settings, dev: bool) -> None:
    if not settings.api_keys and not dev:
        raise click.ClickException(
            "no API keys configured: set INTERESTGRAPH_API_KEYS (e.g. 'k1:read,k2:read+write'), "
            "or pass --dev to allow anonymous access on this machine")


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True)
@click.option("--workers", type=click.IntRange(min=1), default=2, show_default=True,
              help="gunicorn worker processes (each opens its own graph connection).")
@click.option("--threads", type=click.IntRange(min=1), default=1, show_default=True,
              help="Threads per gunicorn worker.")
@click.option("--dev", is_flag=True,
              help="Flask's development server; anonymous access when no API keys are set.")
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, workers: int, threads: int,
          dev: bool) -> None:
    """Serve the HTTP API: gunicorn in production, Flask's server with --dev."""
    settings = settings_of(ctx)
    _require_keys_or_dev(settings, dev)
    if settings.target().embedded:
        from .server import EmbeddedServer, Supervisor

        # Start it once here, not racing from every worker, and bring it back if it dies.
        server = EmbeddedServer(settings.data_dir, settings.embedded_port)
        server.start()
        Supervisor(server).start()
    if dev:
        from .api import create_app

        click.echo(f"development server on http://{host}:{port} (not for production)")
        create_app(settings, allow_anonymous=True).run(host=host, port=port, threaded=True)
        return
    _gunicorn(settings, host, port, workers, threads)


def _metrics_dir(settings: Settings, port: int) -> Path:
    """An emptied folder for the workers' shared metrics, named in ``PROMETHEUS_MULTIPROC_DIR``.

    Set before any worker imports prometheus_client (which reads it at import), so every worker
    writes its samples there and a scrape answered by any worker sums them all.
    """
    import os
    import shutil

    path = settings.data_dir / "metrics" / f"api-{port}"
    shutil.rmtree(path, ignore_errors=True)  # samples of a previous run are not this run's
    path.mkdir(parents=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(path)
    return path


def _gunicorn(settings: Settings, host: str, port: int, workers: int, threads: int) -> None:
    from gunicorn.app.base import BaseApplication

    metrics_dir = _metrics_dir(settings, port)

    def child_exit(_server: Any, worker: Any) -> None:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid, str(metrics_dir))  # type: ignore[no-untyped-call]

    class _Api(BaseApplication):  # type: ignore[misc]
        """gunicorn running ``create_app`` in each worker (no preload: one driver per process)."""

        def load_config(self) -> None:
            for key, value in {"bind": f"{host}:{port}", "workers": workers, "threads": threads,
                               "preload_app": False, "accesslog": None,
                               "worker_class": "gthread" if threads > 1 else "sync",
                               "timeout": 60, "graceful_timeout": 20,
                               "child_exit": child_exit}.items():
                self.cfg.set(key, value)
            if "control_socket_disable" in self.cfg.settings:  # gunicorn >= 25: one per user
                self.cfg.set("control_socket_disable", True)

        def load(self) -> Any:
            from .api import create_app

            return create_app(settings)

    _Api().run()


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True)
@click.option("--workers", type=click.IntRange(min=1), default=2, show_default=True)
@click.option("--dev", is_flag=True, help="Allow anonymous API access when no keys are set.")
@click.pass_context
def up(ctx: click.Context, host: str, port: int, workers: int, dev: bool) -> None:
    """Everything on one laptop: embedded server, a worker, the scheduler and the API, and a
    Kafka consumer (``interestgraph consume``) when ``KAFKA_BOOTSTRAP`` is set.

    Ctrl-C or SIGTERM stops them all.
    """
    import signal
    import subprocess
    import time

    settings = settings_of(ctx)
    _require_keys_or_dev(settings, dev)
    if settings.target().embedded:
        ctx.invoke(server_start)
    cli = [sys.executable, "-m", "interest_graph.cli"]
    serve_cmd = [*cli, "serve", "--host", host, "--port", str(port), "--workers", str(workers)]
    commands = {
        "worker": [*cli, "worker", "--pool", "solo"],
        "beat": [*cli, "beat"],
        "api": [*serve_cmd, "--dev"] if dev else serve_cmd,
    }
    if settings.kafka_bootstrap:
        # Topic, group and format come from the same settings in the child.
        commands["consumer"] = [*cli, "consume", "--bootstrap", settings.kafka_bootstrap]
    children: dict[str, subprocess.Popen[bytes]] = {}
    stopping = False

    def stop(signum: int, _frame: Any) -> None:
        nonlocal stopping
        stopping = True

    previous = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        for name, command in commands.items():
            children[name] = subprocess.Popen(command)
            click.echo(f"started {name} (pid {children[name].pid})")
        click.echo(f"API on http://{host}:{port} — Ctrl-C stops everything")
        while not stopping:
            for name, child in children.items():
                if child.poll() is not None:
                    click.echo(f"{name} exited with status {child.returncode}; stopping", err=True)
                    stopping = True
                    break
            time.sleep(0.5)
    finally:
        for child in children.values():
            if child.poll() is None:
                child.terminate()
        for name, child in children.items():
            try:
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                click.echo(f"{name} did not stop in 30s; killing it", err=True)
                child.kill()
                child.wait()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    click.echo("stopped")

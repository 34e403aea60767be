"""The ``interestgraph`` command.

Commands of the workers package (``worker``, ``refresh``, ``evaluate``) join through the
``interestgraph.commands`` entry-point group, so this module never imports the workers (or torch).
The commands that run processes (``server``, ``serve``, ``up``) are in
:mod:`interest_graph.serving_cli`, ``audience`` in :mod:`interest_graph.audiences.cli`.
"""

from __future__ import annotations

import json
import logging
import sys
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import click

from .audiences.cli import audience
from .errors import InterestGraphError
from .serving_cli import serve, server, server_start, settings_of, up
from .settings import Settings
from .streams.cli import consume

log = logging.getLogger(__name__)


class _Group(click.Group):
    """Adds plugin commands and turns platform errors into one-line messages (no traceback)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        names = set(super().list_commands(ctx))
        names.update(ep.name for ep in entry_points(group="interestgraph.commands"))
        return sorted(names)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            return command
        for ep in entry_points(group="interestgraph.commands"):
            if ep.name == cmd_name:
                try:
                    loaded = ep.load()
                except ImportError as exc:
                    raise click.ClickException(
                        f"'{cmd_name}' needs the workers extra (pip install 'interest-graph[workers]'):"
                        f" {exc}"
                    ) from None
                return loaded if isinstance(loaded, click.Command) else None
        return None

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except InterestGraphError as exc:
            raise click.ClickException(str(exc)) from None


@click.group(cls=_Group)
@click.option("-v", "--verbose", is_flag=True, help="Log at INFO level.")
@click.pass_context
def main(ctx: click.Context, verbose: bool) -> None:
    """Interest Graph: e-commerce behaviour as a living user-item interest graph."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        ctx.obj = Settings.from_env()
    except InterestGraphError as exc:
        raise click.ClickException(str(exc)) from None


# -- graph ---------------------------------------------------------------------------------


@main.command()
@click.pass_context
def init(ctx: click.Context) -> None:
    """Create indexes and constraints (idempotent)."""
    from .graph import open_store

    store = open_store(settings_of(ctx))
    try:
        store.init_schema()
    finally:
        store.close()
    click.echo(f"schema ready ({store.backend})")


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the counts as JSON.")
@click.pass_context
def stats(ctx: click.Context, as_json: bool) -> None:
    """Counts of users, items, categories and interaction edges, and where stream consumers stand."""
    from .graph import open_store
    from .graph.ingest import IngestRepository
    from .graph.streams import StreamRepository

    store = open_store(settings_of(ctx))
    try:
        counts = IngestRepository(store).counts()
        streams = StreamRepository(store).read()
    finally:
        store.close()
    if as_json:
        click.echo(json.dumps({**counts.__dict__, "streams": [s.as_dict() for s in streams]}))
        return
    for key, value in counts.__dict__.items():
        click.echo(f"{key:>12}: {value:,}" if isinstance(value, int) else f"{key:>12}: {value:,.2f}")
    for s in streams:
        click.echo(f"stream {s.topic} (group {s.group}, {s.format}): {s.applied:,} applied, "
                   f"{s.duplicates:,} duplicates, {s.rejected:,} rejected, {s.ignored:,} ignored, "
                   f"lag {s.lag:,}")
        for p in s.partitions:
            click.echo(f"  partition {p.partition}: offset {p.offset:,} of {p.high:,}, lag {p.lag:,}")


@main.command()
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
def reset(ctx: click.Context, yes: bool) -> None:
    """Delete the whole graph."""
    from .graph import open_store

    if not yes:
        click.confirm("Delete every node and edge of the graph?", abort=True)
    store = open_store(settings_of(ctx))
    try:
        store.clear()
        store.init_schema()
    finally:
        store.close()
    click.echo("graph cleared")


@main.command()
@click.argument("source")
@click.option("--batch-size", type=click.IntRange(min=1), help="Events per write (default: settings).")
@click.option("--rejects", type=click.Path(dir_okay=False, path_type=Path),
              help="Write every rejected record (line, field, reason) to this file.")
@click.option("--json", "as_json", is_flag=True, help="End with the summary as one JSON line.")
@click.option("--bulk", is_flag=True,
              help="First load into an empty Neo4j through neo4j-admin's bulk importer "
                   "(the database is replaced; a non-empty one is refused).")
@click.option("--import-command",
              help="With --bulk: the command that runs the import with the database offline "
                   "(default: INTERESTGRAPH_NEO4J_IMPORT_COMMAND).")
@click.pass_context
def load(ctx: click.Context, source: str, batch_size: int | None, rejects: Path | None,
         as_json: bool, bulk: bool, import_command: str | None) -> None:
    """Load a dataset by name (online-retail, ml-100k, amazon-magazine) or a path.

    A path is a generic events file (.csv or .jsonl, optionally .gz) or a folder holding
    events.* and items.*. Loading is idempotent: running it again changes no count. --bulk
    builds the same graph into an empty Neo4j with neo4j-admin's importer, much faster.
    """
    from .ingest.loading import load_source

    settings = settings_of(ctx)
    if batch_size is not None:
        settings = settings.with_overrides(batch_size=batch_size)
    if bulk:
        from .ingest.bulk import load_bulk

        result = load_bulk(settings, source, import_command=import_command)
    elif import_command:
        raise click.UsageError("--import-command goes with --bulk")
    else:
        result = load_source(settings, source, show_progress=not as_json)
    summary, counts = result.summary, result.counts
    out = click.echo
    out(f"loaded {result.dataset}: {summary.events_applied:,} events applied, "
        f"{summary.duplicates:,} duplicates skipped, {summary.rejected:,} rejected "
        f"in {summary.elapsed_s:.1f}s ({result.events_per_s:,.0f} events/s)")
    for reason, count in sorted(summary.skipped.items()):
        out(f"  skipped {count:,} rows: {reason.replace('_', ' ')}")
    for error in summary.errors[:20]:
        out(f"  rejected {error}")
    if summary.rejected > 20:
        out(f"  … and {summary.rejected - 20:,} more rejected records"
            + ("" if rejects else " (use --rejects FILE for all)"))
    if rejects is not None:
        rejects.write_text("".join(f"{e.record}\t{e.field}\t{e.reason}\n" for e in summary.errors))
    out(f"graph now holds {counts.users:,} users, {counts.items:,} items, "
        f"{counts.categories:,} categories, {counts.edges:,} interaction edges "
        f"({counts.events:,} events)")
    if as_json:
        out(json.dumps(result.as_dict()))


@main.command()
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
@click.option("--factor", type=click.IntRange(min=1), required=True,
              help="Copies of every user and item (events grow as much).")
@click.option("--seed", type=int, default=0, show_default=True, help="Same seed, same bytes.")
@click.option("--mix", type=click.FloatRange(0.0, 1.0), default=0.25, show_default=True,
              help="Share of (user, item) pairs moved to another copy of the shop (ties copies together).")
@click.option("--limit", type=click.IntRange(min=1), help="Grow only the first N records (quick runs).")
@click.option("--json", "as_json", is_flag=True, help="End with the report as one JSON line.")
@click.pass_context
def synth(ctx: click.Context, out: Path, factor: int, seed: int, mix: float, limit: int | None,
          as_json: bool) -> None:
    """Online Retail grown FACTOR times with its shape kept, for scale tests.

    Writes OUT/events.csv.gz and OUT/items.csv.gz in the generic format (load them with
    'interestgraph load OUT') and OUT/synth.json; prints the shape beside Online Retail's.
    """
    from .ingest.synth import read_online_retail, synthesize

    base = read_online_retail(settings_of(ctx).datasets_dir, limit)
    report = synthesize(base, out, factor, seed, mix, limit=limit)
    click.echo(f"wrote {report.events:,} events of {report.users:,} users on {report.items:,} items"
               f" to {out}")
    for line in report.table():
        click.echo(line)
    if not report.shape_ok:
        click.echo("shape differs from Online Retail by more than 10% where marked '!'", err=True)
    if as_json:
        click.echo(json.dumps(report.as_dict()))


@main.command()
@click.option("--full", "kind", flag_value="full", help="Retrain and rescore everything.")
@click.option("--incremental", "kind", flag_value="incremental", default=True,
              help="Rescore only what changed since the last refresh (default).")
@click.option("--wait/--no-wait", default=False, help="Wait for the task and show its progress.")
@click.option("--timeout", type=float, default=3600.0, show_default=True,
              help="Seconds to wait with --wait.")
@click.option("--json", "as_json", is_flag=True, help="End with the task result as JSON.")
@click.pass_context
def refresh(ctx: click.Context, kind: str, wait: bool, timeout: float, as_json: bool) -> None:
    """Enqueue a refresh for the workers (start one with 'interestgraph worker')."""
    import time

    from .tasks import REFRESH_FULL, REFRESH_INCREMENTAL, TaskClient

    client = TaskClient(settings_of(ctx))
    try:
        task_id = client.send(REFRESH_FULL if kind == "full" else REFRESH_INCREMENTAL)
        click.echo(f"{kind} refresh queued: task {task_id}")
        if not wait:
            return
        if not client.workers():
            click.echo("no worker answers yet: start one with 'interestgraph worker' "
                       "(the task waits in the queue)", err=True)
        deadline = time.monotonic() + timeout
        last = None
        while True:
            state = client.state(task_id)
            percent = "" if state.percent is None else f"{state.percent:.0f}%"
            line = f"  {state.state.lower()}: {state.stage or ''} {percent}"
            if line != last:
                click.echo(line.rstrip())
                last = line
            if state.done:
                break
            if time.monotonic() > deadline:
                raise click.ClickException(f"task {task_id} still {state.state} after {timeout:.0f}s")
            time.sleep(0.5)
    finally:
        client.close()
    if state.error:
        raise click.ClickException(f"refresh failed: {state.error}")
    result = state.result or {}
    stages = result.get("stages") or {}
    if stages:
        click.echo("stage timings: " + ", ".join(f"{k} {v:.1f}s" for k, v in stages.items()))
    if as_json:
        click.echo(json.dumps(result))


@main.command()
@click.argument("source", default="online-retail")
@click.option("--users", "n_users", type=click.IntRange(min=0), default=3, show_default=True,
              help="Users whose top interests the report shows.")
@click.pass_context
def demo(ctx: click.Context, source: str, n_users: int) -> None:
    """The main job on the embedded default: start the server, load a dataset, run a full refresh
    through a real worker, and report segments, interests with reasons and stage timings.

    SOURCE is a public dataset's name (online-retail, ml-100k, amazon-magazine) or your own data
    in the generic format: a folder with events.csv (or .jsonl) and optionally items.csv."""
    import subprocess
    import time

    from .graph import open_store
    from .tasks import REFRESH_FULL, TaskClient

    settings = settings_of(ctx)
    if settings.target().embedded:
        ctx.invoke(server_start)
    ctx.invoke(load, source=source, batch_size=None, rejects=None, as_json=False)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    log_path = settings.data_dir / "demo-worker.log"
    click.echo(f"starting a worker (log: {log_path})")
    with log_path.open("ab") as log_file:
        worker = subprocess.Popen([sys.executable, "-m", "interest_graph.cli", "worker",
                                   "--pool", "solo"], stdout=log_file, stderr=subprocess.STDOUT)
    client = TaskClient(settings)
    try:
        task_id = client.send(REFRESH_FULL)
        click.echo(f"full refresh queued: task {task_id}")
        started, last = time.monotonic(), None
        while True:
            state = client.state(task_id)
            percent = "" if state.percent is None else f"{state.percent:.0f}%"
            line = f"  {state.stage or state.state.lower()} {percent}"
            if line != last:
                click.echo(f"{line.rstrip()}  ({time.monotonic() - started:.0f}s)")
                last = line
            if state.done:
                break
            if worker.poll() is not None:
                raise click.ClickException(f"the worker exited; see {log_path}")
            time.sleep(0.5)
    finally:
        client.close()
        worker.terminate()
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
    if state.error:
        raise click.ClickException(f"refresh failed: {state.error}")
    report = state.result or {}
    click.echo(f"\nrefresh {report.get('version')}: {report.get('users', 0):,} users, "
               f"{report.get('items', 0):,} items, {report.get('texts_encoded', 0):,} texts encoded "
               f"on {report.get('device')}")
    click.echo("stage timings: " + ", ".join(
        f"{k} {v:.1f}s" for k, v in (report.get("stages") or {}).items()))
    store = open_store(settings)
    try:
        segments = store.read("stats/segments")
        click.echo(f"\n{len(segments)} segments (silhouette "
                   f"{segments[0]['silhouette']:.2f}):" if segments else "\nno segments")
        for seg in segments:
            value = seg.get("avg_expected_value")
            extra = f", avg expected 90-day value {value:,.0f}" if value is not None else ""
            click.echo(f"  {seg['size']:>6,}  {seg['label']}{extra}")
        for user in store.read("stats/sample_users", limit=n_users):
            churn = user.get("churn_risk")
            click.echo(f"\nuser {user['id']} ({user['events']} events; segment "
                       f"'{user['segment']}'; tier {user.get('tier') or '-'}"
                       + (f"; churn risk {churn:.0%}" if churn is not None else "") + ")")
            for rec in store.read("users/get_recommendations", user=user["id"], k=5):
                click.echo(f"  {rec['rank']:>2}. {rec['title'] or rec['item']}  "
                           f"[{rec['score']:.2f}] — {rec['reason']}")
    finally:
        store.close()


for _command in (server, serve, up, audience, consume):
    main.add_command(_command)


def run() -> None:  # pragma: no cover - console entry point
    main(prog_name="interestgraph")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(prog_name="interestgraph"))

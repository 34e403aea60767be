"""``interestgraph consume``: apply a Kafka topic's behaviour to the graph, exactly once."""

from __future__ import annotations

import json
import logging
import signal
import threading
from typing import Any

import click

from ..settings import Settings

log = logging.getLogger(__name__)


@click.command()
@click.option("--topic", help="Topic to read (default: INTERESTGRAPH_KAFKA_TOPIC, interestgraph.events).")
@click.option("--group", help="Consumer group; consumers of one group share the partitions "
              "(default: INTERESTGRAPH_KAFKA_GROUP, interestgraph).")
@click.option("--format", "fmt", type=click.Choice(["generic", "segment"]),
              help="generic: our event JSON; segment: the Segment e-commerce spec "
                   "(default: INTERESTGRAPH_KAFKA_FORMAT, generic).")
@click.option("--bootstrap", help="Kafka bootstrap servers (default: KAFKA_BOOTSTRAP).")
@click.option("--batch-size", type=click.IntRange(min=1), help="Messages per poll and graph write "
              "(default: INTERESTGRAPH_BATCH_SIZE).")
@click.option("--dead-letters", help="Topic for rejected messages (default: TOPIC.rejected).")
@click.option("--no-items", is_flag=True, help="Segment: ignore the products' names, categories and "
              "prices (keep the catalogue loaded from files).")
@click.option("--instance-id", help="A stable name for this consumer (Kafka static membership): "
              "restarted with the same name it resumes its partitions at once.")
@click.option("--session-timeout", type=click.FloatRange(min=1.0), default=10.0, show_default=True,
              help="Seconds without a heartbeat before the group moves this consumer's partitions.")
@click.option("--until-idle", type=click.FloatRange(min=0.1), metavar="SECONDS",
              help="Stop once no message came for this long (a one-off replay); default: run until "
                   "SIGTERM or Ctrl-C.")
@click.option("--json", "as_json", is_flag=True, help="End with the summary as one JSON line.")
@click.pass_context
def consume(ctx: click.Context, topic: str | None, group: str | None, fmt: str | None,
            bootstrap: str | None, batch_size: int | None, dead_letters: str | None,
            no_items: bool, instance_id: str | None, session_timeout: float,
            until_idle: float | None, as_json: bool) -> None:
    """Read behaviour from a Kafka topic and apply it to the graph.

    Offsets are committed only after a batch is in the graph, and event ids make a re-read
    harmless: killed at any point and restarted, the graph ends as after one clean pass.
    Malformed messages go to the dead-letter topic with the field and reason, and the stream goes
    on. Lag and counts show in `interestgraph stats` and on /metrics.
    """
    from ..graph import open_store
    from ..ingest.loading import make_ingestor
    from .consumer import StreamConsumer

    settings: Settings = ctx.obj
    bootstrap = bootstrap or settings.kafka_bootstrap
    if not bootstrap:
        raise click.UsageError("no Kafka to read from: pass --bootstrap or set KAFKA_BOOTSTRAP "
                               "(`eval \"$(make -s kafka)\"` starts a development Kafka)")
    try:
        import confluent_kafka  # noqa: F401
    except ImportError:
        raise click.ClickException("consume needs confluent-kafka "
                                   "(pip install 'interest-graph[api]')") from None
    topic = topic or settings.kafka_topic
    stop = threading.Event()

    def on_signal(signum: int, _frame: Any) -> None:
        log.info("signal %d: finishing the batch in hand, then stopping", signum)
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    store = open_store(settings)
    try:
        store.init_schema()
        consumer = StreamConsumer(
            store, lambda repo: make_ingestor(settings, repo), bootstrap=bootstrap, topic=topic,
            group=group or settings.kafka_group, fmt=fmt or settings.kafka_format,
            items=not no_items, batch_size=batch_size or settings.batch_size,
            dead_letters=dead_letters, instance_id=instance_id,
            session_timeout_s=session_timeout)
        if not as_json:
            click.echo(f"consuming {topic} from {bootstrap} (group {consumer.group}, "
                       f"format {consumer.fmt}); dead letters to {consumer.dead_letters}", err=True)
        summary = consumer.run(stop=stop, idle_exit_s=until_idle)
    finally:
        store.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    click.echo(f"consumed {summary.messages:,} messages: {summary.events_applied:,} events applied, "
               f"{summary.duplicates:,} duplicates, {summary.rejected:,} rejected to the dead-letter "
               f"topic, {sum(summary.ignored.values()):,} ignored in {summary.elapsed_s:.1f}s")
    if as_json:
        click.echo(json.dumps(summary.as_dict()))

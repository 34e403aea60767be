"""``interestgraph evaluate``: the quality benchmark as a CLI command (registered as a plugin).

Torch and the pipelines are imported inside the command, so loading the CLI stays cheap.
"""

from __future__ import annotations

import json
import logging
import resource
from pathlib import Path

import click

logger = logging.getLogger(__name__)


@click.command("evaluate")
@click.argument("dataset")
@click.option("--json", "as_json", is_flag=True, help="Also print the metrics as one JSON line.")
@click.option("--seed", type=int, default=None, help="Default: the settings' seed.")
@click.option(
    "--encoder", type=click.Choice(["minilm", "hashing"]), default="minilm", show_default=True,
    help="Text encoder for the model (hashing: fast, no text model).",
)
@click.option(
    "--methods", default="ours,popularity,content,itemknn,ease,rp3beta,lightgcn", show_default=True,
    help="Comma-separated methods; implicit_als, implicit_bpr and multvae need the bench extra.",
)
@click.option("--cache", type=click.Path(path_type=Path), default=None,
              help="SQLite text-embedding cache (default: none kept between runs).")
def evaluate(
    dataset: str, as_json: bool, seed: int | None, encoder: str, methods: str, cache: Path | None
) -> None:
    """Evaluate ours against the baselines on DATASET (a name or a path): on its own fixed
    train/test split when it has one (gowalla, a train.txt/test.txt folder, a split column),
    else on a temporal split.

    Edge weights and the served model's fit come from the settings, as in the refresh.
    """
    from interest_graph.ingest.datasets import read_dataset
    from interest_graph.recipe import EdgeRecipe
    from interest_graph.settings import Settings

    from .pipelines.evaluation.evaluation import run_benchmark
    from .pipelines.model.features import (
        HashingEncoder,
        MemoryTextCache,
        SentenceTransformerEncoder,
        SqliteTextCache,
        TextCache,
        TextEncoder,
    )
    from .pipelines.model.interest_model import FitConfig

    settings = Settings.from_env()
    if seed is not None:
        settings = settings.with_overrides(seed=seed)
    try:
        ds = read_dataset(dataset, settings.datasets_dir)
    except Exception as exc:  # DatasetError and friends: show the message, not a traceback
        raise click.ClickException(str(exc)) from exc
    enc: TextEncoder = SentenceTransformerEncoder() if encoder == "minilm" else HashingEncoder(64)
    text_cache: TextCache = SqliteTextCache(cache) if cache is not None else MemoryTextCache()
    try:
        out = run_benchmark(
            ds.events, ds.items, enc, text_cache, recipe=EdgeRecipe.from_settings(settings),
            config=FitConfig.from_settings(settings), methods=methods.split(","),
            test_events=ds.test,
        )
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--methods") from exc
    header = f"{'method':<12}{'R@20':>8}{'NDCG@20':>9}{'Hit@10':>8}{'cov':>7}{'coldR@20':>10}{'fit s':>8}"
    click.echo(f"{ds.name}: {out['info']['users']} users, {out['info']['items']} items, "
               f"{out['info']['test_pairs']} held-out pairs ({out['info']['split']} split)")
    click.echo(header)
    for name, m in out["methods"].items():
        cold = "-" if m["cold_recall@20"] is None else f"{m['cold_recall@20']:.4f}"
        click.echo(
            f"{name:<12}{m['recall@20']:>8.4f}{m['ndcg@20']:>9.4f}{m['hit@10']:>8.4f}"
            f"{m['coverage']:>7.3f}{cold:>10}{m['fit_s']:>8.1f}"
        )
    for name, why in out["skipped"].items():
        click.echo(f"{name:<12}not run: {why}")
    if as_json:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
        click.echo(json.dumps({"datasets": {ds.name: out["methods"]}, "info": out["info"],
                               "peak_rss_mb": round(peak, 1)}))

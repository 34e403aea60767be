"""Recommendation quality: ours vs baselines on one split per dataset (temporal, or the fixed one
a dataset is published with, scored beside its published figures).

Usage::

    python benchmarks/quality.py [--dataset NAME_OR_PATH ...] [--seed 0]
        [--encoder minilm|hashing] [--cache PATH] [--methods ours,ease,...] [--device cuda]
        [--markdown]
    python benchmarks/quality.py --markdown-from RESULT.json   # the docs' table, no run

``--dataset`` takes a shared dataset's name (default: ml-100k, online-retail, amazon-magazine;
also ``gowalla``, LightGCN's fixed split), a folder (or file) in the generic event format
(``events.csv``/``.jsonl`` and optional ``items.*``: see ``interestgraph load``; a ``split``
column makes it a fixed split) or a folder with a LightGCN-format ``train.txt``/``test.txt``.
Edge weights (behaviour weights, half-life) and the served model's fit come from the platform
settings (``INTERESTGRAPH_*``), as in the refresh: "ours" is what a full refresh would serve.

The last line of stdout is one JSON object::

    {"datasets": {"<name>": {"<method>": {"recall@20": ..., "ndcg@20": ..., "hit@10": ...,
     "coverage": ..., "cold_recall@20": ... | null, "fit_s": ...}}}, "peak_rss_mb": ..., ...}

With ``--markdown`` the table of ``docs/model.md`` is printed before it.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
for _src in ("platform", "workers"):
    if str(ROOT / _src) not in sys.path:
        sys.path.insert(0, str(ROOT / _src))

from interest_graph.ingest.datasets import read_dataset  # noqa: E402
from interest_graph.recipe import EdgeRecipe  # noqa: E402
from interest_graph.settings import Settings  # noqa: E402
from interest_workers.pipelines.evaluation.evaluation import METHODS, run_benchmark  # noqa: E402
from interest_workers.pipelines.model.features import (  # noqa: E402
    HashingEncoder,
    SentenceTransformerEncoder,
    SqliteTextCache,
    TextEncoder,
)
from interest_workers.pipelines.model.interest_model import FitConfig  # noqa: E402

logger = logging.getLogger("quality")
DEFAULT_DATASETS = ("ml-100k", "online-retail", "amazon-magazine")
KNOWN_DATASETS = (*DEFAULT_DATASETS, "gowalla")
#: The methods run by default where the whole list would take hours on 2 cores: at Gowalla's
#: 41k items Mult-VAE takes about 90 s an epoch, and the trained peers' early stopping scores
#: 30k users × 41k items at every check (the LightGCN peer at its published budget:
#: benchmarks/lightgcn_reproduction.py). EASE and ItemKNN are dense above 8,000 items (listed
#: as not run).
ROUTINE_ON = {"gowalla": ("ours", "popularity", "itemknn", "ease", "rp3beta", "implicit_als")}
#: Published figures on a dataset's fixed split, printed beside ours (never run here).
PUBLISHED: dict[str, dict[str, dict[str, float]]] = {
    "gowalla": {
        "LightGCN (He et al. 2020, Table 3)": {"recall@20": 0.1830, "ndcg@20": 0.1554},
        "NGCF (same table)": {"recall@20": 0.1570, "ndcg@20": 0.1327},
    },
}


def markdown_table(result: dict[str, Any]) -> str:
    """The results as the Markdown table of ``docs/model.md`` (best of each metric in bold)."""
    lines = ["| dataset | method | R@20 | NDCG@20 | Hit@10 | coverage | cold R@20 | fit s |",
             "|---|---|---|---|---|---|---|---|"]
    for name, methods in result["datasets"].items():
        best = {k: max(float(m[k] or 0.0) for m in methods.values())
                for k in ("recall@20", "ndcg@20", "hit@10", "cold_recall@20")}

        def cell(m: dict[str, Any], key: str, best: dict[str, float] = best) -> str:
            if m[key] is None:
                return "–"
            text = f"{m[key]:.4f}"
            return f"**{text}**" if key in best and m[key] == best[key] and m[key] > 0 else text

        order = sorted(methods, key=lambda k: (k != "ours", -float(methods[k]["ndcg@20"])))
        for method in order:
            m = methods[method]
            label = f"**{method}**" if method == "ours" else method
            lines.append(f"| {name} | {label} | {cell(m, 'recall@20')} | {cell(m, 'ndcg@20')} | "
                         f"{cell(m, 'hit@10')} | {m['coverage']:.3f} | {cell(m, 'cold_recall@20')} "
                         f"| {m['fit_s']:.1f} |")
        for method, why in result.get("skipped", {}).get(name, {}).items():
            lines.append(f"| {name} | {method} | not run: {why} | | | | | |")
        for label, figures in PUBLISHED.get(name, {}).items():
            lines.append(f"| {name} | *published* {label} | {figures['recall@20']:.4f} | "
                         f"{figures['ndcg@20']:.4f} | – | – | – | – |")
    return "\n".join(lines)


def against_published(result: dict[str, Any]) -> dict[str, dict[str, dict[str, float]]]:
    """Ours over each published figure (``{dataset: {peer: {metric: ratio}}}``)."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    for name, methods in result["datasets"].items():
        ours = methods.get("ours")
        if ours is None or name not in PUBLISHED:
            continue
        out[name] = {peer: {k: round(ours[k] / v, 4) for k, v in figures.items()}
                     for peer, figures in PUBLISHED[name].items()}
    return out


def peak_rss_mb() -> float:
    """Peak resident set size of this process (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", action="append",
                        help=f"name or generic-format path (repeatable; default: "
                             f"{', '.join(DEFAULT_DATASETS)})")
    parser.add_argument("--seed", type=int, default=None, help="default: the settings' seed")
    parser.add_argument("--encoder", choices=("minilm", "hashing"), default="minilm")
    parser.add_argument("--cache", type=Path, default=ROOT / ".cache" / "text_embeddings.sqlite")
    parser.add_argument("--methods", default=None,
                        help=f"default: {','.join(METHODS)} (on gowalla: {','.join(ROUTINE_ON['gowalla'])})")
    parser.add_argument("--device", default=None, help="default: the settings' device")
    parser.add_argument("--markdown", action="store_true", help="print the docs' table too")
    parser.add_argument("--markdown-from", type=Path, default=None,
                        help="print the table of a saved result (its JSON line) and exit")
    args = parser.parse_args(argv)
    if args.markdown_from is not None:
        lines = args.markdown_from.read_text().strip().splitlines()
        print(markdown_table(json.loads(lines[-1])))
        return 0
    settings = Settings.from_env()
    if args.seed is not None:
        settings = settings.with_overrides(seed=args.seed)
    if args.device is not None:
        settings = settings.with_overrides(device=args.device)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    names = args.dataset or list(DEFAULT_DATASETS)
    encoder: TextEncoder = (
        SentenceTransformerEncoder(device=settings.device) if args.encoder == "minilm"
        else HashingEncoder(64)
    )
    cache = SqliteTextCache(args.cache)
    recipe = EdgeRecipe.from_settings(settings)
    config = FitConfig.from_settings(settings)
    result: dict[str, object] = {"datasets": {}, "info": {}, "seed": settings.seed,
                                 "half_life_days": settings.half_life_days}
    start = time.perf_counter()
    for name in names:
        t0 = time.perf_counter()
        ds = read_dataset(name, settings.datasets_dir)
        methods = (args.methods.split(",") if args.methods
                   else list(ROUTINE_ON.get(name, METHODS)))
        read_s = time.perf_counter() - t0
        out = run_benchmark(ds.events, ds.items, encoder, cache, recipe=recipe, config=config,
                            methods=methods, test_events=ds.test)
        key = ds.name if name in KNOWN_DATASETS else Path(name).name
        result["datasets"][key] = out["methods"]  # type: ignore[index]
        result["info"][key] = {**out["info"], "read_s": round(read_s, 2)}  # type: ignore[index]
        if out["skipped"]:
            result.setdefault("skipped", {})[key] = out["skipped"]  # type: ignore[attr-defined]
        for method, m in out["methods"].items():
            cold = m["cold_recall@20"]
            print(
                f"{key:>16} {method:>12}  R@20 {m['recall@20']:.4f}  N@20 {m['ndcg@20']:.4f}  "
                f"H@10 {m['hit@10']:.4f}  cov {m['coverage']:.3f}  "
                f"coldR@20 {cold if cold is None else round(cold, 4)}"
                f"  fit {m['fit_s']:.1f}s",
                flush=True,
            )
    result["published"] = {n: PUBLISHED[n] for n in result["datasets"] if n in PUBLISHED}
    result["ours_over_published"] = against_published(result)
    result["total_s"] = round(time.perf_counter() - start, 1)
    result["peak_rss_mb"] = round(peak_rss_mb(), 1)
    result["load_avg"] = [round(x, 2) for x in os.getloadavg()]
    if args.markdown:
        print(markdown_table(result))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

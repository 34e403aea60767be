"""Recommendation quality: ours vs baselines on one temporal split per dataset.

Usage::

    PYTHONPATH=platform:workers python benchmarks/quality.py [--dataset NAME_OR_PATH ...]
        [--seed 0] [--encoder minilm|hashing] [--cache PATH] [--methods ours,ease,...]

Edge weights (behaviour weights, half-life) and the served model's fit come from the platform
settings (``INTERESTGRAPH_*``), as in the refresh: "ours" is what a full refresh would serve.

The last line of stdout is one JSON object::

    {"datasets": {"<name>": {"<method>": {"recall@20": ..., "ndcg@20": ..., "hit@10": ...,
     "coverage": ..., "cold_recall@20": ... | null, "fit_s": ...}}}, "peak_rss_mb": ..., ...}
"""

from __future__ import annotations

import argparse
import json
import logging
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for _src in ("platform", "workers"):
    if str(ROOT / _src) not in sys.path:
        sys.path.insert(0, str(ROOT / _src))

from interest_graph.ingest.datasets import read_dataset  # noqa: E402
from interest_graph.recipe import EdgeRecipe  # noqa: E402
from interest_graph.settings import Settings  # noqa: E402
from interest_workers.pipelines.evaluation import METHODS, run_benchmark  # noqa: E402
from interest_workers.pipelines.features import (  # noqa: E402
    HashingEncoder,
    SentenceTransformerEncoder,
    SqliteTextCache,
    TextEncoder,
)
from interest_workers.pipelines.interest_model import FitConfig  # noqa: E402

logger = logging.getLogger("quality")


def peak_rss_mb() -> float:
    """Peak resident set size of this process (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", action="append", help="name or path (repeatable)")
    parser.add_argument("--seed", type=int, default=None, help="default: the settings' seed")
    parser.add_argument("--encoder", choices=("minilm", "hashing"), default="minilm")
    parser.add_argument("--cache", type=Path, default=ROOT / ".cache" / "text_embeddings.sqlite")
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--device", default=None, help="default: the settings' device")
    args = parser.parse_args(argv)
    settings = Settings.from_env()
    if args.seed is not None:
        settings = settings.with_overrides(seed=args.seed)
    if args.device is not None:
        settings = settings.with_overrides(device=args.device)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    names = args.dataset or ["ml-100k", "online-retail"]
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
        read_s = time.perf_counter() - t0
        out = run_benchmark(ds.events, ds.items, encoder, cache, recipe=recipe, config=config,
                            methods=args.methods.split(","))
        key = ds.name if name in ("ml-100k", "online-retail", "amazon-magazine") else name
        result["datasets"][key] = out["methods"]  # type: ignore[index]
        result["info"][key] = {**out["info"], "read_s": round(read_s, 2)}  # type: ignore[index]
        for method, m in out["methods"].items():
            cold = m["cold_recall@20"]
            print(
                f"{key:>16} {method:>10}  R@20 {m['recall@20']:.4f}  N@20 {m['ndcg@20']:.4f}  "
                f"H@10 {m['hit@10']:.4f}  cov {m['coverage']:.3f}  "
                f"coldR@20 {cold if cold is None else round(cold, 4)}"
                f"  fit {m['fit_s']:.1f}s",
                flush=True,
            )
    result["total_s"] = round(time.perf_counter() - start, 1)
    result["peak_rss_mb"] = round(peak_rss_mb(), 1)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

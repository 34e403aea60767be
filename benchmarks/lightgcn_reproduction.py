"""The LightGCN peer at its published budget: does it reproduce the paper's figure?

Usage::

    python benchmarks/lightgcn_reproduction.py [--dataset gowalla] [--epochs 1000]
        [--eval-every 20] [--checkpoint PATH] [--max-seconds N] [--compare-routine]

Trains :class:`~interest_workers.pipelines.evaluation.lightgcn.LightGCN` with the paper's settings (64-d,
3 layers, Adam 1e-3, batches of 2048, L2 1e-4, N(0, 0.1²) initialisation, the reference code's
sampler) on the dataset's training split (its fixed split, or the temporal split
``benchmarks/quality.py`` makes) and scores the test split every ``--eval-every`` epochs, as the
paper's code does. The run checkpoints after every evaluation and resumes from ``--checkpoint``
(a CPU run at Gowalla's size takes about 40 s an epoch on two cores: ``--max-seconds`` stops it
cleanly and a later call goes on). No setting is chosen here: the curve is reported as it is,
and the figure compared with the published one is the last evaluated epoch's.

With ``--compare-routine`` the evaluation's routine LightGCN budget
(:data:`~interest_workers.pipelines.evaluation.tuning.ROUTINE_LIGHTGCN`, tuned on the validation carve as
the quality benchmark tunes it) is fitted and scored on the same split, beside the full budget.

The last line of stdout is one JSON object::

    {"dataset": ..., "epochs_done": ..., "curve": [[epoch, recall@20, ndcg@20, loss], ...],
     "last": {"recall@20": ..., "ndcg@20": ...}, "published": {...} | null,
     "last_over_published": {...} | null, "routine": {...} | null, "train_s": ...}
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
for _src in ("platform", "workers"):
    if str(ROOT / _src) not in sys.path:
        sys.path.insert(0, str(ROOT / _src))

import torch  # noqa: E402

from interest_graph.ingest.datasets import read_dataset  # noqa: E402
from interest_graph.recipe import EdgeRecipe  # noqa: E402
from interest_graph.settings import Settings  # noqa: E402
from interest_workers.pipelines.evaluation.evaluation import K, fixed_split, training_data  # noqa: E402
from interest_workers.pipelines.evaluation.lightgcn import LightGCN  # noqa: E402
from interest_workers.pipelines.evaluation.tuning import Validation, fit_baseline  # noqa: E402
from interest_workers.pipelines.model.features import HashingEncoder  # noqa: E402
from interest_workers.pipelines.model.metrics import evaluate_scorer, without_targets  # noqa: E402
from interest_workers.pipelines.model.splits import carve_validation, temporal_split  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from quality import PUBLISHED  # noqa: E402

logger = logging.getLogger("lightgcn_reproduction")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="gowalla")
    parser.add_argument("--epochs", type=int, default=1000)
    parser.add_argument("--eval-every", type=int, default=20)
    parser.add_argument("--checkpoint", type=Path, default=None,
                        help="default: .cache/lightgcn-<dataset>.pt")
    parser.add_argument("--max-seconds", type=float, default=None,
                        help="stop (checkpointed) after this long; run again to go on")
    parser.add_argument("--compare-routine", action="store_true",
                        help="also fit the routine budget the quality benchmark uses")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    settings = Settings.from_env()
    ds = read_dataset(args.dataset, settings.datasets_dir)
    if ds.test is None:
        train, held = temporal_split(ds.events)
    else:
        train, held = ds.events, fixed_split(ds.events, ds.test)
    # Ids only: the peer sees no text, so the cheapest encoder builds the graph.
    data = training_data(train, held, ds.items, EdgeRecipe.from_settings(settings),
                         HashingEncoder(8))
    name = Path(args.dataset).name
    checkpoint = args.checkpoint or ROOT / ".cache" / f"lightgcn-{name}.pt"
    model = LightGCN(epochs=args.epochs, seed=args.seed).setup(data.graph)
    curve: list[list[float]] = []
    train_s = 0.0
    if checkpoint.exists():
        saved = torch.load(checkpoint, weights_only=False)
        model.load_state(saved["state"])
        curve, train_s = saved["curve"], float(saved["train_s"])
        logger.info("resumed at epoch %d", model.epochs_done)
    started = time.perf_counter()
    while model.epochs_done < args.epochs:
        t0 = time.perf_counter()
        loss = model.train_epoch()
        train_s += time.perf_counter() - t0
        epoch = model.epochs_done
        if epoch % args.eval_every == 0 or epoch == args.epochs:
            m = evaluate_scorer(model.snapshot(), data.consumed, data.targets, k=K)
            curve.append([epoch, round(float(m["recall@20"] or 0.0), 5),
                          round(float(m["ndcg@20"] or 0.0), 5), round(loss, 5)])
            logger.info("epoch %d: loss %.4f, test R@20 %.4f, NDCG@20 %.4f (%.0f s training)",
                        epoch, loss, curve[-1][1], curve[-1][2], train_s)
            checkpoint.parent.mkdir(parents=True, exist_ok=True)
            torch.save({"state": model.state(), "curve": curve, "train_s": train_s},
                       checkpoint.with_suffix(".tmp"))
            checkpoint.with_suffix(".tmp").replace(checkpoint)
            if args.max_seconds is not None and time.perf_counter() - started > args.max_seconds:
                break
    last = {"recall@20": curve[-1][1], "ndcg@20": curve[-1][2]} if curve else None
    published = next(iter(PUBLISHED.get(name, {}).items()), None)
    routine: dict[str, Any] | None = None
    if args.compare_routine:
        carved, val_targets = carve_validation(data.graph)
        val = Validation(carved, without_targets(data.consumed, val_targets), val_targets)
        t0 = time.perf_counter()
        tuned = fit_baseline("lightgcn", data.graph, val, item_x=data.item_x,
                             user_text_x=data.user_text_x, seed=args.seed)
        m = evaluate_scorer(tuned.scorer, data.consumed, data.targets, k=K)
        routine = {"recall@20": m["recall@20"], "ndcg@20": m["ndcg@20"], "chosen": tuned.params,
                   "fit_s": round(time.perf_counter() - t0, 1)}
    print(json.dumps({
        "dataset": name, "epochs_done": model.epochs_done, "epochs": args.epochs,
        "batch_size": model.step_size, "lr": model.lr, "curve": curve, "last": last,
        "published": None if published is None else {published[0]: published[1]},
        "last_over_published": None if published is None or last is None else {
            k: round(last[k] / v, 4) for k, v in published[1].items()},
        "routine": routine, "train_s": round(train_s, 1),
        "threads": torch.get_num_threads()}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

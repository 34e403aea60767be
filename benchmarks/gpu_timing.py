"""Encoding and training time on one device: run it once with ``--device cpu`` and once with
``--device cuda`` to put the two side by side.

Usage::

    python benchmarks/gpu_timing.py --device cuda [--dataset online-retail] [--epochs 40] [--fit]

Times, on the dataset's training split (as ``benchmarks/quality.py`` builds it):

* ``encode_s``: MiniLM encoding of every item text (no cache), and texts per second;
* ``train_s``: the served model's GCN training for ``--epochs`` epochs (no early stopping), with
  the served config's batch size;
* ``fit_s`` (with ``--fit``): the whole served fit (validation carve, term choice, blend, refit).

The last line of stdout is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for _src in ("platform", "workers"):
    if str(ROOT / _src) not in sys.path:
        sys.path.insert(0, str(ROOT / _src))

import torch  # noqa: E402

from interest_graph.ingest.datasets import read_dataset  # noqa: E402
from interest_graph.recipe import EdgeRecipe  # noqa: E402
from interest_graph.settings import Settings  # noqa: E402
from interest_workers.pipelines.evaluation.evaluation import training_data  # noqa: E402
from interest_workers.pipelines.model.features import (  # noqa: E402
    MemoryTextCache,
    SentenceTransformerEncoder,
    user_features,
)
from interest_workers.pipelines.model.interest_model import FitConfig, fit, new_gcn  # noqa: E402
from interest_workers.pipelines.model.splits import temporal_split  # noqa: E402
from interest_workers.pipelines.model.training import train_gcn  # noqa: E402


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dataset", default="online-retail")
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--fit", action="store_true", help="also time the whole served fit")
    args = parser.parse_args(argv)
    settings = Settings.from_env().with_overrides(device=args.device)
    ds = read_dataset(args.dataset, settings.datasets_dir)
    train, held = temporal_split(ds.events)
    encoder = SentenceTransformerEncoder(device=args.device)
    encoder.encode(["warm up"])  # model load is not encoding
    texts = sorted({r.text for r in ds.items.values() if r.text})
    _sync(args.device)
    start = time.perf_counter()
    encoder.encode(texts)
    _sync(args.device)
    encode_s = time.perf_counter() - start
    data = training_data(train, held, ds.items, EdgeRecipe.from_settings(settings), encoder,
                         MemoryTextCache())
    config = FitConfig.from_settings(settings)
    graph = data.graph
    user_x = user_features(graph, data.item_x, data.user_text_x)
    gcn = new_gcn(graph, data.item_x.shape[1], config)
    _sync(args.device)
    start = time.perf_counter()
    train_gcn(gcn, graph, user_x, data.item_x, epochs=args.epochs, lr=config.lr,
              batch_size=config.batch_size(graph.num_edges),
              text_loss_weight=config.text_loss_weight, seed=config.seed, device=args.device)
    _sync(args.device)
    train_s = time.perf_counter() - start
    out: dict[str, object] = {
        "device": args.device,
        "device_name": (torch.cuda.get_device_name() if args.device.startswith("cuda")
                        else "cpu"),
        "torch_threads": torch.get_num_threads(),
        "dataset": args.dataset,
        "texts": len(texts),
        "encode_s": round(encode_s, 3),
        "texts_per_s": round(len(texts) / encode_s, 1),
        "train_epochs": args.epochs,
        "train_edges": graph.num_edges,
        "train_s": round(train_s, 3),
    }
    if args.fit:
        start = time.perf_counter()
        fit(graph, data.item_x, data.user_text_x, data.consumed, config)
        out["fit_s"] = round(time.perf_counter() - start, 3)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Where each public dataset comes from, and the exact files its reader needs.

Used to tell a newcomer without ``../shared/datasets`` what to fetch and where to put it (the
data is never downloaded at run time, and never copied into the repository).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class PublicDataset:
    """A public dataset a reader exists for."""

    name: str  # as given to ``interestgraph load``
    title: str
    publisher: str
    obtain: str  # where to get it and how to turn it into the files below
    folder: str  # under the datasets folder
    files: tuple[str, ...]

    def missing(self, datasets_dir: Path) -> list[Path]:
        return [p for p in self.paths(datasets_dir) if not p.is_file()]

    def paths(self, datasets_dir: Path) -> list[Path]:
        return [datasets_dir / self.folder / f for f in self.files]

    def describe(self, datasets_dir: Path) -> str:
        files = "\n".join(f"      {p}" for p in self.paths(datasets_dir))
        return (f"  {self.name}: {self.title}\n    publisher: {self.publisher}\n"
                f"    obtain: {self.obtain}\n    put:\n{files}")


PUBLIC_DATASETS: dict[str, PublicDataset] = {d.name: d for d in (
    PublicDataset(
        "online-retail", "UCI Online Retail (transactions of a UK online gift shop, 2010-2011)",
        "UCI Machine Learning Repository, donor Daqing Chen, London South Bank University "
        "(Chen, Sain & Guo 2012; CC BY 4.0)",
        "https://archive.ics.uci.edu/dataset/352/online+retail - save the sheet as CSV with its "
        "header (InvoiceNo, StockCode, Description, Quantity, InvoiceDate as "
        "YYYY-MM-DD HH:MM:SS, UnitPrice, CustomerID, Country), then gzip it",
        "online-retail", ("online_retail.csv.gz",)),
    PublicDataset(
        "ml-100k", "MovieLens 100K (100,000 ratings of 1,682 movies by 943 users)",
        "GroupLens Research, University of Minnesota (research use only; no redistribution)",
        "https://grouplens.org/datasets/movielens/100k/ - unzip ml-100k.zip and gzip each of "
        "u.data, u.item and u.genre",
        "ml-100k", ("u.data.gz", "u.item.gz", "u.genre.gz")),
    PublicDataset(
        "amazon-magazine", "Amazon Review Data 2018, Magazine Subscriptions (5-core + metadata)",
        "Jianmo Ni, Jiacheng Li, Julian McAuley, UCSD (EMNLP 2019; research use)",
        "https://nijianmo.github.io/amazon/index.html - the 'Magazine Subscriptions' 5-core "
        "reviews and metadata files, kept as the publisher's .json.gz",
        "amazon-magazine-subscriptions",
        ("Magazine_Subscriptions_5.json.gz", "meta_Magazine_Subscriptions.json.gz")),
    PublicDataset(
        "gowalla", "Gowalla check-ins, the fixed train/test split of LightGCN and NGCF "
        "(29,858 users, 40,981 items)",
        "Cho, Myers & Leskovec (KDD 2011; SNAP), 10-core split by Wang et al. (NGCF, SIGIR 2019) "
        "as used by He et al. (LightGCN, SIGIR 2020); research use",
        "https://github.com/gusye1234/LightGCN-PyTorch - data/gowalla/train.txt and test.txt "
        "(lines 'user item item ...'), gzipped",
        "gowalla", ("train.txt.gz", "test.txt.gz")),
)}

OWN_DATA_HINT = ("Or use your own data: 'interestgraph load PATH' or 'interestgraph demo PATH' "
                 "with PATH a folder holding events.csv (or .jsonl) and optionally items.csv in "
                 "the generic format (see the README).")


def how_to_get(datasets_dir: Path, names: list[str] | None = None) -> str:
    """Publisher, source and exact destination of each named dataset (default: all)."""
    chosen = [PUBLIC_DATASETS[n] for n in (names or list(PUBLIC_DATASETS))]
    return "\n".join([*(d.describe(datasets_dir) for d in chosen), OWN_DATA_HINT])

"""Shared test configuration: where the real datasets live."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from interest_graph.settings import REPO_ROOT


def datasets_dir() -> Path:
    return Path(os.environ.get("INTERESTGRAPH_DATASETS_DIR") or REPO_ROOT.parent / "shared" / "datasets")


@pytest.fixture(scope="session")
def shared_datasets() -> Path:
    path = datasets_dir()
    if not (path / "ml-100k").is_dir():
        pytest.skip(f"shared datasets not found at {path} (set INTERESTGRAPH_DATASETS_DIR)")
    return path

"""Headless Chromium for the browser tests: Debian's ``chromium`` driven by ``playwright``.

Chromium is never downloaded here: CI installs the Debian package (``make system-tools``) and the
``playwright`` Python package; without either, the calling test module is skipped with the reason.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from interest_graph.settings import REPO_ROOT

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = REPO_ROOT / "test-artifacts"


def playwright_or_skip(test: str) -> Any:
    """``playwright.sync_api``, or skip the calling module (``test`` names it in the reason)."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not found: install Debian's chromium package "
                    f"(apt-get install -y chromium) to run {test}", allow_module_level=True)
    return pytest.importorskip(
        "playwright.sync_api",
        reason="the playwright Python package is not installed (pip install playwright)")

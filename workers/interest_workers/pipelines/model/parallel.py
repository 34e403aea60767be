"""The cores this process may use, and independent blocks of work spread over them."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def map_blocks(fn: Callable[[int], T], starts: Sequence[int], threads: int) -> list[T]:
    """``[fn(s) for s in starts]``, on up to ``threads`` threads, results in order (for work that
    releases the GIL: scipy's sparse products, numpy's sorts)."""
    if threads <= 1 or len(starts) <= 1:
        return [fn(s) for s in starts]
    with ThreadPoolExecutor(min(threads, len(starts))) as pool:
        return list(pool.map(fn, starts))

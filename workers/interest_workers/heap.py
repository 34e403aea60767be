"""Keeping large temporary arrays on the heap while scoring (glibc's ``mallopt``).

Scoring a batch allocates and frees a dozen arrays of batch × catalogue floats (240 MB each for
1,024 users at 59k items). glibc serves every allocation that large from a fresh ``mmap`` and
unmaps it on ``free``, so each page faults in again, zero-filled, on first touch. At 16× Online
Retail that was 42% of the scoring time: 4.19 against 2.45 ms a user for the same 4,096 users
with the thresholds raised (one run each, 2 threads, `docs/scale.md`). :func:`reused_heap` raises
the mmap and trim thresholds while the body runs, so freed arrays stay in the heap and the next
batch reuses them; afterwards glibc's defaults come back and the heap is trimmed, so an idle
worker's resident size returns to its baseline. Elsewhere than on glibc it does nothing.
"""

from __future__ import annotations

import ctypes
import functools
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

log = logging.getLogger(__name__)

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
#: glibc's default for both (it then adapts the mmap threshold up to 32 MB by itself; a value
#: set with ``mallopt`` stays fixed, which is what the defaults restored here are).
_DEFAULT = 128 * 1024
#: Allocations up to this size come from the heap while scoring.
_MMAP_THRESHOLD = 1 << 30
_TRIM_THRESHOLD = (1 << 31) - 1

_lock = threading.Lock()
_depth = 0


@functools.cache
def _libc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt  # noqa: B018 - glibc only
        libc.malloc_trim  # noqa: B018
    except (OSError, AttributeError):
        return None
    return libc


@contextmanager
def reused_heap() -> Iterator[None]:
    """Run the body with freed large arrays kept in the heap for reuse (nests; thread-safe)."""
    global _depth
    libc = _libc()
    if libc is None:
        yield
        return
    with _lock:
        if _depth == 0:
            libc.mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD)
            libc.mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD)
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                libc.mallopt(_M_MMAP_THRESHOLD, _DEFAULT)
                libc.mallopt(_M_TRIM_THRESHOLD, _DEFAULT)
                libc.malloc_trim(0)

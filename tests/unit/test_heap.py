"""Large temporary arrays are reused from the heap while scoring, not faulted in afresh."""

from __future__ import annotations

import resource

import numpy as np
import pytest

from interest_workers.heap import _libc, reused_heap

SIZE = 64 << 20  # bytes: far above glibc's mmap threshold (at most 32 MB)


def _faults_of_second_array() -> int:
    """Minor page faults taken by filling a large array after an equal one was freed."""
    first = np.ones(SIZE // 8)
    del first
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    second = np.ones(SIZE // 8)
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
    del second
    return faults


@pytest.mark.skipif(_libc() is None, reason="glibc only")
def test_a_freed_large_array_is_reused_inside_and_mapped_afresh_outside() -> None:
    # Mapped afresh: it faults in again, page by page (huge pages where the kernel has them,
    # so at least one fault per 2 MB).
    assert _faults_of_second_array() >= SIZE >> 21
    with reused_heap(), reused_heap():  # nests
        _faults_of_second_array()  # the heap grows once
        assert _faults_of_second_array() == 0
    assert _faults_of_second_array() >= SIZE >> 21  # defaults back

"""The refresh's pull: user rows paged into edge arrays without keeping a Python object per edge."""

from __future__ import annotations

import numpy as np

from interest_graph.graph.refresh import _EdgeReader


def rows() -> list[dict]:
    return [
        {"id": "u1", "text": "likes tea", "items": ["a", "b", "c"], "weights": [1.0, 2.5, -1.0],
         "first_ts": [1.0, 2.0, 3.0], "last_ts": [4.0, 5.0, 6.0], "consumed": [True, False, True],
         "purchase_days": [3, 5], "revenue": 12.5},
        {"id": "u2", "items": [], "weights": [], "first_ts": [], "last_ts": [], "consumed": []},
        {"id": "u3", "items": ["late", "a"], "weights": [3.0, 1.0], "first_ts": [7.0, 8.0],
         "last_ts": [9.0, 10.0], "consumed": [False, True]},
    ]


def read(flush_edges: int):
    reader = _EdgeReader(["a", "b", "c"], flush_edges=flush_edges)
    for row in rows():
        reader.add(row)
    return reader.result()


def test_rows_become_arrays_whatever_the_chunking() -> None:
    whole = read(flush_edges=1 << 16)
    e = whole.edges
    assert e.user.tolist() == [0, 0, 0, 2, 2]
    assert e.item.tolist() == [0, 1, 2, 3, 0]  # "late": an item first seen in the edges
    assert whole.item_ids == ("a", "b", "c", "late")
    assert e.weight.tolist() == [1.0, 2.5, -1.0, 3.0, 1.0]
    assert e.first_ts.tolist() == [1.0, 2.0, 3.0, 7.0, 8.0]
    assert e.last_ts.tolist() == [4.0, 5.0, 6.0, 9.0, 10.0]
    assert e.consumed.tolist() == [True, False, True, False, True]
    assert (e.user.dtype, e.weight.dtype, e.consumed.dtype) == (np.int64, np.float64, np.bool_)
    assert whole.users.ids == ("u1", "u2", "u3")
    assert whole.users.text == {"u1": "likes tea"}
    assert whole.users.purchases == {"u1": ((3, 5), 12.5)}
    chunked = read(flush_edges=2)  # flushed into numpy chunks after every row
    assert len(chunked.edges) == 5
    for name in ("user", "item", "weight", "first_ts", "last_ts", "consumed"):
        assert np.array_equal(getattr(chunked.edges, name), getattr(e, name)), name


def test_no_users_no_edges() -> None:
    empty = _EdgeReader(["a"]).result()
    assert len(empty.edges) == 0 and empty.edges.user.dtype == np.int64
    assert empty.item_ids == ("a",)

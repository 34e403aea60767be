"""The FalkorDB adapter's conversion of query results to plain values."""

from __future__ import annotations

from interest_graph.graph.driver import _plain


class _Node:
    """What the falkordb client returns for a node or an edge: an object with ``properties``."""

    def __init__(self, **properties: object) -> None:
        self.properties = properties


def test_lists_of_scalars_stay_as_they_are_and_graph_objects_become_dicts() -> None:
    edges = [0.5, 1, "item-1", None, True]
    assert _plain(edges) is edges  # a pull's millions of entries are not copied one by one
    nested = [_Node(id="a"), [_Node(id="b"), 2], {"n": _Node(id="c")}]
    assert _plain(nested) == [{"id": "a"}, [{"id": "b"}, 2], {"n": {"id": "c"}}]
    assert _plain(_Node(id="d", weight=1.5)) == {"id": "d", "weight": 1.5}

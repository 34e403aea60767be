from __future__ import annotations

import pytest

from interest_graph.privacy import Pseudonymiser


def test_user_ids_are_keyed_reproducible_and_opaque() -> None:
    a, b = Pseudonymiser("secret-a"), Pseudonymiser("secret-b")
    assert a.user("17850") == Pseudonymiser("secret-a").user("17850")
    assert a.user("17850") != b.user("17850")
    assert a.user("17850") != a.user("17851")
    assert "17850" not in a.user("17850") and len(a.user("17850")) == 33


def test_event_hash_differs_from_user_hash_and_disabled_keeps_ids() -> None:
    p = Pseudonymiser("s")
    assert p.event("x") != p.user("x")[1:25]
    assert Pseudonymiser("s", enabled=False).user("17850") == "17850"
    with pytest.raises(ValueError):
        Pseudonymiser("")

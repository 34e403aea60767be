"""Churn basis: BG/NBD where it separates customers, else a recency table back-tested on the data."""

from __future__ import annotations

import numpy as np
import pandas as pd

from interest_workers.pipelines.value import churn


def test_recency_table_is_a_back_test_on_the_data_itself() -> None:
    end = 1000
    ref = end - 90
    days = {}
    for n in range(40):  # bought 10 days before the reference day; half buy again after it
        days[f"r{n}"] = [ref - 10, *([ref + 5] if n % 2 else [])]
    for n in range(40):  # bought 200 days before; one in eight buys again
        days[f"o{n}"] = [ref - 200, *([ref + 30] if n % 8 == 0 else [])]
    days["late"] = [ref + 1]  # first bought after the reference day: not in the table
    table = churn.recency_churn_table(days, end)
    rates = {bound: (rate, n) for bound, rate, n in table}
    assert rates[30] == (0.5, 40) and rates[365] == (0.875, 40)
    # Empty bins take their nearest populated neighbour's rate.
    assert rates[60][0] == 0.5 and rates[None] == (0.875, 0)
    risk = churn.recency_risk(table, np.array([3.0, 45.0, 200.0, 1000.0]))
    assert risk.tolist() == [0.5, 0.5, 0.875, 0.875]
    assert churn.recency_churn_table({"a": [end - 5]}, end) == ()


def test_churn_basis_uses_bgnbd_only_where_it_separates_customers() -> None:
    days = {f"c{n}": [100 + n % 30, 400] for n in range(60)}
    spread = np.linspace(0.05, 0.95, 60)
    basis = churn.churn_basis(spread, days, 500)
    assert basis.method == "bgnbd" and basis.separates and basis.p_alive_spread > 0.2
    flat = churn.churn_basis(np.full(60, 0.999), days, 500)
    assert flat.method == "recency" and not flat.separates
    assert "does not separate customers" in flat.description and "<1%" not in flat.description
    frame = pd.DataFrame({"recency_days": [10, 200], "p_alive": [0.999, 0.999],
                          "churn_risk": [0.001, 0.001]}, index=["a", "b"])
    applied = flat.apply(frame)
    assert applied["churn_risk"].tolist() == churn.recency_risk(flat.table, [10, 200]).tolist()
    assert frame["churn_risk"].tolist() == [0.001, 0.001]  # not modified in place
    short = churn.churn_basis(None, {"a": [499]}, 500)
    assert short.method == "none" and np.isnan(short.apply(frame)["churn_risk"]).all()
    again = churn.ChurnBasis.from_dict(flat.as_dict())
    assert again == flat

"""Churn risk that means something on short histories: the basis a refresh states it on.

BG/NBD's 1 − P(alive) (:mod:`.value`) is used where the fitted model separates customers; where it
does not (Online Retail: nearly everyone is "alive"), churn risk is read from an empirical
recency table back-tested on the data itself. Pure: arrays and frames in, a :class:`ChurnBasis` out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .customer_value import VALUE_HORIZON_DAYS, observation_end_day

#: BG/NBD separates customers when P(alive) spreads at least this much between its 10th and 90th
#: percentiles; below that (Online Retail: nearly everyone is "alive"), churn risk is read from
#: recency instead.
SEPARATION_SPREAD = 0.2
#: Recency bins (upper bounds, days) of the recency-based churn table; the last bin is open.
RECENCY_BINS: tuple[int, ...] = (30, 60, 90, 180, 365)
#: A recency bin needs this many customers to get its own rate (else it takes its neighbour's).
MIN_BIN_CUSTOMERS = 20


@dataclass(frozen=True)
class ChurnBasis:
    """How churn risk is computed for one refresh, and why.

    Attributes:
        method: ``"bgnbd"`` (1 − P(alive)), ``"recency"`` (the empirical table) or ``"none"``.
        separates: whether the fitted BG/NBD spreads P(alive) by :data:`SEPARATION_SPREAD`.
        p_alive_spread: P(alive) 90th minus 10th percentile (``None`` without a fit).
        horizon_days: the horizon of the recency table.
        table: recency bins as ``(up to days or None for the open bin, churn rate, customers)``.
        description: the basis in words (shown beside every churn figure).
    """

    method: str
    separates: bool
    p_alive_spread: float | None
    horizon_days: int
    table: tuple[tuple[int | None, float, int], ...]
    description: str

    @classmethod
    def from_dict(cls, saved: Mapping[str, Any]) -> ChurnBasis:
        """The inverse of :meth:`as_dict` (the incremental refresh reads the saved basis)."""
        table = tuple((row["up_to_days"], float(row["churn_rate"]), int(row["customers"]))
                      for row in saved.get("table", ()))
        return cls(saved["method"], bool(saved["separates"]), saved.get("p_alive_spread"),
                   int(saved["horizon_days"]), table, saved["description"])

    def apply(self, frame: pd.DataFrame) -> pd.DataFrame:
        """``frame`` (from :func:`customer_value`) with ``churn_risk`` on this basis: BG/NBD's as
        is, the recency table's, or unknown (NaN) where neither says anything."""
        if frame.empty or self.method == "bgnbd":
            return frame
        out = frame.copy()
        out["churn_risk"] = (recency_risk(self.table, out["recency_days"])
                             if self.method == "recency" else np.nan)
        return out

    def as_dict(self) -> dict[str, Any]:
        return {"method": self.method, "separates": self.separates,
                "p_alive_spread": self.p_alive_spread, "horizon_days": self.horizon_days,
                "table": [{"up_to_days": b, "churn_rate": r, "customers": n}
                          for b, r, n in self.table],
                "description": self.description}


def p_alive_spread(p_alive: np.ndarray | pd.Series) -> float | None:
    """P(alive) 90th minus 10th percentile (``None`` when no customer has one)."""
    values = np.asarray(p_alive, dtype=float)
    values = values[np.isfinite(values)]
    if not len(values):
        return None
    return float(np.percentile(values, 90) - np.percentile(values, 10))


def _bin(recency_days: np.ndarray) -> np.ndarray:
    return np.searchsorted(np.asarray(RECENCY_BINS), recency_days, side="left")


def recency_churn_table(
    purchase_days: Mapping[str, Sequence[int]], end_day: int, *, horizon_days: int = 90
) -> tuple[tuple[int | None, float, int], ...]:
    """Empirical churn rate by recency, measured on the data itself.

    Back-test: at ``end_day − horizon_days``, customers are binned by days since their last
    purchase occasion; a bin's churn rate is the share of its customers with no purchase
    occasion in the following ``horizon_days``. Bins with fewer than
    :data:`MIN_BIN_CUSTOMERS` take the rate of the nearest bin that has enough.

    Args:
        purchase_days: Per customer, the UTC day numbers of their purchase occasions.
        end_day: The last day of the data (day number).
        horizon_days: The horizon (days).

    Returns:
        One ``(upper bound in days or None, churn rate, customers)`` per bin of
        :data:`RECENCY_BINS` plus the open bin; empty when no customer had bought by the
        reference day (the history is shorter than the horizon).
    """
    ref = end_day - horizon_days
    recency, churned = [], []
    for days in purchase_days.values():
        before = [d for d in days if d <= ref]
        if not before:
            continue
        recency.append(ref - max(before))
        churned.append(not any(ref < d <= end_day for d in days))
    if not recency:
        return ()
    bins = _bin(np.asarray(recency))
    gone = np.asarray(churned, dtype=float)
    n_bins = len(RECENCY_BINS) + 1
    counts = np.bincount(bins, minlength=n_bins)
    rates = np.bincount(bins, weights=gone, minlength=n_bins) / np.maximum(counts, 1)
    filled = rates.copy()
    enough = np.flatnonzero(counts >= MIN_BIN_CUSTOMERS)
    if not len(enough):
        filled[:] = gone.mean()
    else:
        for b in range(n_bins):
            if counts[b] < MIN_BIN_CUSTOMERS:
                filled[b] = rates[enough[np.abs(enough - b).argmin()]]
    bounds: list[int | None] = [*RECENCY_BINS, None]
    return tuple((bounds[b], float(filled[b]), int(counts[b])) for b in range(n_bins))


def recency_risk(table: tuple[tuple[int | None, float, int], ...],
                 recency_days: np.ndarray | pd.Series) -> np.ndarray:
    """Churn risk of customers from their days since last purchase and a recency table."""
    rates = np.asarray([rate for _, rate, _ in table], dtype=float)
    return np.asarray(rates[_bin(np.asarray(recency_days, dtype=float))], dtype=float)


def churn_basis(
    p_alive: np.ndarray | pd.Series | None,
    purchase_days: Mapping[str, Sequence[int]],
    end_day: int,
    *,
    horizon_days: int = 90,
) -> ChurnBasis:
    """Decide how to state churn risk: BG/NBD where it separates customers, else recency.

    Args:
        p_alive: P(alive) of every customer from the fitted BG/NBD (``None``: no fit).
        purchase_days: Per customer, their purchase occasion days (for the recency table).
        end_day: The last day of the data.
        horizon_days: Horizon of the recency back-test.
    """
    spread = None if p_alive is None else p_alive_spread(p_alive)
    if spread is not None and spread >= SEPARATION_SPREAD:
        return ChurnBasis("bgnbd", True, spread, horizon_days, (),
                          f"BG/NBD 1 − P(alive); P(alive) spreads {spread:.2f} between its "
                          "10th and 90th percentiles")
    table = recency_churn_table(purchase_days, end_day, horizon_days=horizon_days)
    why = ("BG/NBD was not fitted" if spread is None else
           f"BG/NBD does not separate customers here: P(alive) spreads only {spread:.2f}")
    if not table:
        return ChurnBasis("none", False, spread, horizon_days, (),
                          f"{why}, and the history is shorter than {horizon_days} days")
    customers = sum(n for _, _, n in table)
    return ChurnBasis("recency", False, spread, horizon_days, table,
                      f"recency-based: the share of the {customers:,} customers who, "
                      f"{horizon_days} days before the end of the data, had gone as long without "
                      f"a purchase and did not buy in the next {horizon_days} days ({why})")


def refresh_churn_basis(frame: pd.DataFrame,
                        purchases: Mapping[str, tuple[Sequence[int], float]],
                        observation_end: float) -> ChurnBasis:
    """The full refresh's :func:`churn_basis` for a :func:`customer_value` frame."""
    if not purchases:
        return ChurnBasis("none", False, None, 90, (), "no purchases yet")
    p_alive = frame["p_alive"] if "p_alive" in frame.columns else None
    days = {uid: list(d) for uid, (d, _) in purchases.items()}
    return churn_basis(p_alive, days, observation_end_day(purchases, observation_end),
                       horizon_days=int(VALUE_HORIZON_DAYS))

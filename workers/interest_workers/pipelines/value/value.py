"""Customer value: transactions, per-customer summaries and RFM tiers.

Pure pipeline: a transactions frame in, frames and small dataclasses out; no database, no Celery.

The flow is ``transactions -> summarize_customers -> (rfm_scores | fit_value_model ->
score_customers)``, the last two in :mod:`~interest_workers.pipelines.value.value_model`.
Transactions are rows of ``customer_id``, ``ts`` and ``value``: a ``value`` >= 0 is a purchase,
a negative one a return. A *purchase occasion* is a customer-day (UTC) with
at least one purchase (a zero-value purchase, such as a free item, still counts); same-day
purchases are merged into one occasion, as in Fader, Hardie & Lee (2005). Returns never count as
occasions; they only lower the customer's net spend.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Protocol

import numpy as np
import pandas as pd

#: Time units a :class:`CustomerSummary` can be expressed in: days or weeks.
TIME_UNITS: dict[str, float] = {"D": 1.0, "W": 7.0}

#: Standard RFM segment map on the (recency score, frequency score) grid. Each entry is
#: (recency scores, frequency scores, tier); together they cover all 25 cells exactly once.
RFM_SEGMENTS: tuple[tuple[tuple[int, ...], tuple[int, ...], str], ...] = (
    ((5,), (4, 5), "champions"),
    ((3, 4), (4, 5), "loyal"),
    ((4, 5), (2, 3), "potential loyalists"),
    ((5,), (1,), "new"),
    ((4,), (1,), "promising"),
    ((3,), (3,), "need attention"),
    ((3,), (1, 2), "about to sleep"),
    ((1, 2), (5,), "can't lose"),
    ((1, 2), (3, 4), "at risk"),
    ((1, 2), (1, 2), "hibernating"),
)
RFM_TIERS: tuple[str, ...] = tuple(tier for _, _, tier in RFM_SEGMENTS)

_TIER_GRID: dict[tuple[int, int], str] = {
    (r, f): tier for rs, fs, tier in RFM_SEGMENTS for r in rs for f in fs
}
assert len(_TIER_GRID) == 25, "RFM_SEGMENTS must cover each (R, F) cell exactly once"

_REQUIRED_COLUMNS = ("customer_id", "ts", "value")


class PurchaseEvent(Protocol):
    """The fields of :class:`interest_graph.ingest.records.Event` that customer value reads."""

    user_id: str
    type: str
    ts: float
    quantity: float
    price: float | None


@dataclass(frozen=True)
class CustomerSummary:
    """Per-customer recency/frequency/monetary summary at an observation end date.

    Attributes:
        frame: One row per customer with at least one purchase occasion, indexed by
            ``customer_id``, with columns ``frequency`` (repeat occasions, x), ``recency`` (time
            from first to last occasion, t_x), ``T`` (time from first occasion to the observation
            end), ``monetary_value`` (mean value of the repeat occasions, 0 without repeats),
            ``n_occasions`` (x + 1), ``net_value`` (purchases plus returns, not below 0) and
            ``days_since_last`` (days from the last occasion to the observation end).
        observation_end: Last day (inclusive, UTC) whose transactions count.
        time_unit: ``"D"`` or ``"W"``: the unit of ``recency`` and ``T``.
    """

    frame: pd.DataFrame
    observation_end: date
    time_unit: str

    @property
    def n_customers(self) -> int:
        """Number of customers in the summary."""
        return len(self.frame)


def transactions_from_events(events: Iterable[PurchaseEvent]) -> pd.DataFrame:
    """Turn platform events into a transactions frame; only ``purchase`` and ``return`` count.

    A purchase is worth ``quantity * price``; a return the same amount negated. Events without a
    price are skipped, since they carry no monetary value.

    Args:
        events: Objects with ``user_id``, ``type``, ``ts`` (epoch seconds), ``quantity`` and
            ``price``, such as :class:`interest_graph.ingest.records.Event`.

    Returns:
        A frame with columns ``customer_id`` (str), ``ts`` (datetime64, UTC) and ``value``.
    """
    ids: list[str] = []
    stamps: list[float] = []
    values: list[float] = []
    for event in events:
        if event.type not in ("purchase", "return") or event.price is None:
            continue
        amount = abs(event.quantity * event.price)
        ids.append(event.user_id)
        stamps.append(event.ts)
        values.append(amount if event.type == "purchase" else -amount)
    return pd.DataFrame(
        {
            "customer_id": pd.Series(ids, dtype=object),
            "ts": pd.to_datetime(np.asarray(stamps, dtype=float), unit="s", utc=True),
            "value": np.asarray(values, dtype=float),
        }
    )


def _as_day(value: date | datetime | str | pd.Timestamp) -> date:
    """A calendar day from a date, datetime, ISO string or Timestamp (UTC for aware values)."""
    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"observation_end must be a date or an ISO date string, got {value!r}"
        ) from exc
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert(UTC)
    day: date = stamp.date()
    return day


def _days(ts: pd.Series) -> np.ndarray:
    """UTC calendar days of timestamps (datetime64, aware or naive, or epoch seconds) as int64."""
    if pd.api.types.is_numeric_dtype(ts):
        stamps = pd.DatetimeIndex(pd.to_datetime(ts.to_numpy(dtype=float), unit="s", utc=True))
    else:
        stamps = pd.DatetimeIndex(pd.to_datetime(ts, utc=True))
    naive = stamps.tz_convert(None).to_numpy()
    return np.asarray(naive.astype("datetime64[D]").astype(np.int64))


def purchase_occasions(transactions: pd.DataFrame) -> pd.DataFrame:
    """Merge purchases into customer-day occasions; returns (negative values) are dropped.

    Args:
        transactions: Columns ``customer_id``, ``ts`` (datetime64 or epoch seconds), ``value``.

    Returns:
        A frame with columns ``customer_id``, ``day`` (int, days since 1970-01-01 UTC) and
        ``value`` (sum of that day's purchases), sorted by customer and day.

    Raises:
        ValueError: If a required column is missing.
    """
    missing = [c for c in _REQUIRED_COLUMNS if c not in transactions.columns]
    if missing:
        raise ValueError(
            f"transactions is missing columns {missing}; "
            f"required columns: {list(_REQUIRED_COLUMNS)}"
        )
    values = transactions["value"].to_numpy(dtype=float)
    if not np.all(np.isfinite(values)):
        raise ValueError("transactions.value must be finite numbers (negative = return)")
    bought = values >= 0
    frame = pd.DataFrame(
        {
            "customer_id": transactions["customer_id"].to_numpy()[bought],
            "day": _days(transactions["ts"])[bought],
            "value": values[bought],
        }
    )
    return (
        frame.groupby(["customer_id", "day"], as_index=False, sort=True)["value"]
        .sum()
        .reset_index(drop=True)
    )


def summarize_customers(
    transactions: pd.DataFrame,
    observation_end: date | datetime | str,
    *,
    time_unit: str = "W",
) -> CustomerSummary:
    """Per-customer frequency, recency, age and spend at ``observation_end`` (inclusive).

    Transactions after ``observation_end`` are ignored. Customers with no purchase occasion up to
    then (only returns, or nothing yet) are left out.

    Args:
        transactions: Columns ``customer_id``, ``ts`` (datetime64 or epoch seconds) and
            ``value`` (negative = return).
        observation_end: Last day whose transactions count (a date, datetime or ISO string).
        time_unit: ``"W"`` (weeks, as in Fader, Hardie & Lee) or ``"D"`` (days).

    Returns:
        The :class:`CustomerSummary`.

    Raises:
        ValueError: On an unknown ``time_unit``, a missing column or an unreadable date.
    """
    if time_unit not in TIME_UNITS:
        raise ValueError(f"time_unit must be one of {sorted(TIME_UNITS)}, got {time_unit!r}")
    end = _as_day(observation_end)
    end_day = (end - date(1970, 1, 1)).days
    occasions = purchase_occasions(transactions)
    occasions = occasions[occasions["day"] <= end_day]

    # Net spend: returns count against the customer up to the same end date.
    all_days = _days(transactions["ts"]) if len(transactions) else np.empty(0, dtype=np.int64)
    in_window = all_days <= end_day
    net = (
        pd.Series(transactions["value"].to_numpy(dtype=float)[in_window])
        .groupby(transactions["customer_id"].to_numpy()[in_window])
        .sum()
    )

    grouped = occasions.groupby("customer_id", sort=True)
    first = grouped["day"].min()
    last = grouped["day"].max()
    count = grouped["day"].size()
    total = grouped["value"].sum()
    first_value = grouped["value"].first()
    repeats = count - 1
    with np.errstate(invalid="ignore", divide="ignore"):
        repeat_mean = np.where(repeats > 0, (total - first_value) / repeats.clip(lower=1), 0.0)
    scale = TIME_UNITS[time_unit]
    frame = pd.DataFrame(
        {
            "frequency": repeats.astype(float),
            "recency": (last - first) / scale,
            "T": (end_day - first) / scale,
            "monetary_value": repeat_mean,
            "n_occasions": count.astype(int),
            "net_value": net.reindex(first.index).fillna(0.0).clip(lower=0.0),
            "days_since_last": (end_day - last).astype(int),
        },
        index=first.index,
    )
    frame.index.name = "customer_id"
    return CustomerSummary(frame=frame, observation_end=end, time_unit=time_unit)


def quintile_scores(values: np.ndarray | pd.Series) -> np.ndarray:
    """Scores 1-5 by quintile of the mid-rank percentile; higher values get higher scores.

    Ties share a score: each value's percentile is ``(average rank - 0.5) / n``, so identical
    values (including a single customer) land in the middle quintile, 3, rather than being split
    by input order.

    Args:
        values: Shape ``[n]``, finite numbers.

    Returns:
        Integer scores, shape ``[n]``, in 1..5.
    """
    series = pd.Series(np.asarray(values, dtype=float))
    if series.empty:
        return np.empty(0, dtype=np.int64)
    percentile = (series.rank(method="average").to_numpy() - 0.5) / len(series)
    return np.asarray(np.minimum(np.floor(percentile * 5).astype(np.int64) + 1, 5))


def rfm_tier(r_score: int, f_score: int) -> str:
    """The tier name of a (recency score, frequency score) cell of :data:`RFM_SEGMENTS`.

    Raises:
        ValueError: If a score is outside 1..5.
    """
    try:
        return _TIER_GRID[(int(r_score), int(f_score))]
    except KeyError:
        raise ValueError(
            f"RFM scores must be integers in 1..5, got r={r_score!r}, f={f_score!r}"
        ) from None


def rfm_scores(summary: CustomerSummary) -> pd.DataFrame:
    """RFM values, quintile scores, an RFM score and a value tier per customer.

    Recency is days since the last purchase occasion (fewer is better), frequency the number of
    purchase occasions, monetary the net spend (purchases plus returns, not below 0).

    Args:
        summary: From :func:`summarize_customers`.

    Returns:
        A frame indexed by ``customer_id`` with columns ``recency_days``, ``frequency``,
        ``monetary``, ``r_score``, ``f_score``, ``m_score`` (1-5 each), ``rfm_score`` (the
        three digits as an int, e.g. 545) and ``tier`` (one of :data:`RFM_TIERS`).
    """
    frame = summary.frame
    recency = frame["days_since_last"].to_numpy(dtype=float)
    frequency = frame["n_occasions"].to_numpy(dtype=np.int64)
    monetary = frame["net_value"].to_numpy(dtype=float)
    r_score = quintile_scores(-recency)
    f_score = quintile_scores(frequency)
    m_score = quintile_scores(monetary)
    tiers = [_TIER_GRID[(int(r), int(f))] for r, f in zip(r_score, f_score, strict=True)]
    return pd.DataFrame(
        {
            "recency_days": recency.astype(np.int64),
            "frequency": frequency,
            "monetary": monetary,
            "r_score": r_score,
            "f_score": f_score,
            "m_score": m_score,
            "rfm_score": 100 * r_score + 10 * f_score + m_score,
            "tier": pd.Series(tiers, dtype=object).to_numpy(),
        },
        index=frame.index,
    )

"""Customer value per refresh: every buyer's RFM and forecast from the graph's purchase occasions.

The refresh keeps, per user, the distinct purchase days and net revenue; this module turns them into
the transactions :mod:`.value` summarises, scores RFM and (with a fitted or saved BG/NBD +
Gamma-Gamma model) the 90-day forecast, and flattens the result into the properties written on users.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd

from .value import rfm_scores, summarize_customers
from .value_model import ValueModelFit, fit_value_model, score_customers

logger = logging.getLogger(__name__)

#: Forecast horizon of the refresh's expected purchases and value.
VALUE_HORIZON_DAYS = 90.0


@dataclass(frozen=True)
class ValueResult:
    """Value per customer and the fit it came from.

    Attributes:
        frame: Indexed by ``customer_id``: RFM columns, and ``expected_*``, ``p_alive`` and
            ``churn_risk`` where a fit was available.
        fit: :meth:`ValueModelFit.as_dict` of that fit, or ``None``.
    """

    frame: pd.DataFrame
    fit: dict[str, Any] | None


def observation_end_day(purchases: Mapping[str, tuple[Sequence[int], float]],
                        observation_end: float) -> int:
    """The day number the observation ends: ``observation_end``'s day, or the day after the last
    purchase day when that is earlier (a replayed history must not look all churned)."""
    last_day = max(max(days) for days, _ in purchases.values())
    return int(min(observation_end, (last_day + 1) * 86400.0) // 86400)


def customer_value(
    purchases: Mapping[str, tuple[Sequence[int], float]],
    observation_end: float,
    fit_params: Mapping[str, Any] | None = None,
    *,
    fit: bool = True,
) -> ValueResult:
    """RFM and BG/NBD + Gamma-Gamma value per customer from purchase days and net revenue.

    Args:
        purchases: Per customer, the distinct purchase days (epoch day numbers) and net revenue,
            as the graph keeps them on users (revenue is spread evenly over the days).
        observation_end: Epoch seconds; the observation ends at the data's last purchase day if
            that is earlier (a replayed history must not look like every customer churned).
        fit_params: A saved fit to reuse (the incremental refresh); else one is fitted when
            ``fit`` is true.
        fit: Fit a model when no ``fit_params`` are given (the incremental refresh never fits on
            its few customers).
    """
    if not purchases:
        return ValueResult(pd.DataFrame(), None)
    ids: list[str] = []
    stamps: list[float] = []
    values: list[float] = []
    for uid, (days, revenue) in purchases.items():
        per_day = max(revenue, 0.0) / len(days)
        for day in days:
            ids.append(uid)
            stamps.append(day * 86400.0 + 43200.0)
            values.append(per_day)
    tx = pd.DataFrame({"customer_id": pd.Series(ids, dtype=object),
                       "ts": pd.to_datetime(np.asarray(stamps), unit="s", utc=True),
                       "value": np.asarray(values, dtype=float)})
    end = date(1970, 1, 1) + timedelta(days=observation_end_day(purchases, observation_end))
    summary = summarize_customers(tx, end)
    frame = rfm_scores(summary)
    if fit_params is None and not fit:
        return ValueResult(frame, None)
    try:
        model = (ValueModelFit(**fit_params) if fit_params is not None
                 else fit_value_model(summary))
        frame = frame.join(score_customers(model, summary, horizon_days=VALUE_HORIZON_DAYS),
                           how="left")
    except (ValueError, ArithmeticError) as exc:
        logger.warning("customer-value model not fitted: %s", exc)
        return ValueResult(frame, None)
    return ValueResult(frame, model.as_dict())


def value_fields(frame: pd.DataFrame, customer_ids: Sequence[str]) -> list[dict[str, Any]]:
    """Per customer id, the value properties written on the user (empty for non-buyers)."""
    numbers = ("recency_days", "frequency", "monetary", "expected_purchases", "expected_value",
               "p_alive", "churn_risk")
    out: list[dict[str, Any]] = []
    for uid in customer_ids:
        if frame.empty or uid not in frame.index:
            out.append({})
            continue
        row = frame.loc[uid]
        fields: dict[str, Any] = {}
        for name in numbers:
            v = row.get(name)
            fields[name] = None if v is None or pd.isna(v) else float(v)
        score = row.get("rfm_score")
        fields["rfm_score"] = None if score is None or pd.isna(score) else str(score)
        fields["tier"] = row.get("tier")
        out.append(fields)
    return out

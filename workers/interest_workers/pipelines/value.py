"""Customer value: RFM tiers and a buy-till-you-die model (BG/NBD + Gamma-Gamma).

Pure pipeline: a transactions frame in, frames and small dataclasses out; no database, no Celery.

The flow is ``transactions -> summarize_customers -> (rfm_scores | fit_value_model ->
score_customers)``. Transactions are rows of ``customer_id``, ``ts`` and ``value``: a ``value``
>= 0 is a purchase, a negative one a return. A *purchase occasion* is a customer-day (UTC) with
at least one purchase (a zero-value purchase, such as a free item, still counts); same-day
purchases are merged into one occasion, as in Fader, Hardie & Lee (2005). Returns never count as
occasions; they only lower the customer's net spend.

Library choice (issue 4): BG/NBD and Gamma-Gamma are fitted with ``lifetimes`` 0.11.3, called
through :func:`fit_value_model` and :func:`score_customers` only, so the library can be swapped
without touching callers. Measured on this platform (Python 3.11, numpy 2.4, pandas 3.1, scipy 1.17,
2 CPU cores), see ``docs/customer-value.md`` for the full comparison:

* ``lifetimes`` 0.11.3 (archived in 2020): the fitters work on numpy 2 / pandas 3; BG/NBD on
  CDNOW_sample reproduces the paper's r, alpha, a, b to three decimals in about 0.1 s, with only
  ``autograd`` and ``dill`` as extra dependencies. Its ``lifetimes.datasets`` module fails to import
  (it needs ``pkg_resources``, gone from current setuptools; we never import it), and
  ``import lifetimes`` emits a pandas ``Pandas4Warning`` because it sets the removed
  ``mode.chained_assignment`` option: pandas 4 will turn that into an import error, hence the
  ``pandas<4`` pin and the CDNOW regression test.
* ``pymc-marketing`` 0.19.2 (maintained): works offline and reproduces the paper too, but only with
  flat priors (its default priors give a = 0.706, b = 2.092, 11-14% off); about 600 MB of extra
  dependencies (pymc, pytensor, numba, llvmlite, matplotlib, ...), 3 s import, 21 s first fit
  (pytensor C compilation, needs g++ in the worker image) and 0.5-5 s warm fits.
* ``btyd``: the 0.1b releases require Python < 3.10; 0.1a1 pulls pymc 4 and aesara. Not usable.

``lifetimes`` is the smallest thing that works and reproduces the published fit exactly; the exit
path, when pandas 4 lands, is ``pymc-marketing``'s ``BetaGeoModel``/``GammaGammaModel`` with
``HalfFlat`` priors and ``method="map"``, which we verified gives the same parameters.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Protocol

import numpy as np
import pandas as pd

logger = logging.getLogger(__name__)

#: Time units a :class:`CustomerSummary` can be expressed in: days or weeks.
TIME_UNITS: dict[str, float] = {"D": 1.0, "W": 7.0}

#: Name and version of the library that fits the buy-till-you-die models.
LIBRARY = "lifetimes 0.11.3"

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


@dataclass(frozen=True)
class ValueModelFit:
    """Fitted BG/NBD and Gamma-Gamma parameters and fit diagnostics.

    Attributes:
        r: BG/NBD gamma shape of the purchase rate.
        alpha: BG/NBD gamma scale of the purchase rate (in ``time_unit``).
        a: BG/NBD beta parameter of the dropout probability.
        b: BG/NBD beta parameter of the dropout probability.
        log_likelihood: BG/NBD log-likelihood at the optimum, in ``time_unit`` (comparable to
            the paper's -9582.4 for CDNOW_sample in weeks).
        n_customers: Customers the BG/NBD model was fitted on.
        p: Gamma-Gamma shape of the spend per transaction (``None`` if not fitted).
        q: Gamma-Gamma shape of the spend scale distribution (``None`` if not fitted).
        v: Gamma-Gamma scale of the spend scale distribution (``None`` if not fitted).
        spend_log_likelihood: Gamma-Gamma log-likelihood (``None`` if not fitted).
        n_repeat_customers: Customers with at least one repeat occasion (Gamma-Gamma's data).
        time_unit: ``"D"`` or ``"W"``.
        library: The fitting library and its version.
    """

    r: float
    alpha: float
    a: float
    b: float
    log_likelihood: float
    n_customers: int
    p: float | None
    q: float | None
    v: float | None
    spend_log_likelihood: float | None
    n_repeat_customers: int
    time_unit: str
    library: str = LIBRARY

    def as_dict(self) -> dict[str, Any]:
        """The fit as a JSON-serialisable dict (to store alongside scores)."""
        return {
            "r": self.r,
            "alpha": self.alpha,
            "a": self.a,
            "b": self.b,
            "log_likelihood": self.log_likelihood,
            "n_customers": self.n_customers,
            "p": self.p,
            "q": self.q,
            "v": self.v,
            "spend_log_likelihood": self.spend_log_likelihood,
            "n_repeat_customers": self.n_repeat_customers,
            "time_unit": self.time_unit,
            "library": self.library,
        }


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


def _lifetimes() -> Any:
    """Import ``lifetimes`` with its known import-time pandas deprecation silenced.

    ``lifetimes/utils.py`` sets ``pd.options.mode.chained_assignment``, deprecated in pandas 3
    (a ``Pandas4Warning``, a DeprecationWarning subclass); the package is archived, so we cannot
    fix it upstream. Only that warning, only during the import.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message=r".*mode\.chained_assignment.*", category=DeprecationWarning
        )
        import lifetimes

    return lifetimes


def fit_value_model(
    summary: CustomerSummary,
    *,
    penalizer: float = 0.0,
    fit_spend: bool = True,
) -> ValueModelFit:
    """Fit BG/NBD (purchases, dropout) and Gamma-Gamma (spend per occasion) by maximum likelihood.

    Deterministic: both fits are L-BFGS/Nelder-Mead optimisations from fixed starting points.

    Args:
        summary: From :func:`summarize_customers`; needs at least 2 customers.
        penalizer: L2 penalty on the parameters (``lifetimes``' ``penalizer_coef``); 0 is the
            plain maximum-likelihood fit of the paper. Use a small value (0.001) if a fit on
            sparse data fails to converge.
        fit_spend: Also fit Gamma-Gamma on the customers with repeat occasions of positive
            value. It needs at least 2 of them; otherwise ``p``, ``q``, ``v`` stay ``None``.

    Returns:
        The :class:`ValueModelFit`.

    Raises:
        ValueError: If there are fewer than 2 customers, ``penalizer`` is negative, or a fit does
            not converge (the message suggests a penalizer).
    """
    if summary.n_customers < 2:
        raise ValueError(f"need at least 2 customers to fit, got {summary.n_customers}")
    if penalizer < 0:
        raise ValueError(f"penalizer must be >= 0, got {penalizer}")
    lifetimes = _lifetimes()
    frame = summary.frame
    x = frame["frequency"].to_numpy(dtype=float)
    t_x = frame["recency"].to_numpy(dtype=float)
    age = frame["T"].to_numpy(dtype=float)
    # lifetimes' likelihood calls warnings.simplefilter(); keep that from leaking to the caller.
    try:
        with warnings.catch_warnings():
            bg = lifetimes.BetaGeoFitter(penalizer_coef=penalizer).fit(x, t_x, age)
    except lifetimes.utils.ConvergenceError as exc:
        raise ValueError(
            f"BG/NBD did not converge on {summary.n_customers} customers with penalizer="
            f"{penalizer}; retry with a small positive penalizer such as 0.001"
        ) from exc
    r, alpha, a, b = (float(bg.params_[k]) for k in ("r", "alpha", "a", "b"))
    # Fitted on rescaled time; re-evaluate the total log-likelihood in the caller's time unit.
    log_likelihood = -float(
        bg._negative_log_likelihood(
            np.log([r, alpha, a, b]), x, t_x, age, np.ones_like(x), 0.0
        )
        * len(x)
    )

    p = q = v = spend_ll = None
    monetary = frame["monetary_value"].to_numpy(dtype=float)
    n_repeat = int((x > 0).sum())
    # Gamma-Gamma needs positive spend; repeat occasions worth 0 (free items) carry no spend.
    repeat = (x > 0) & (monetary > 0)
    if fit_spend and repeat.sum() >= 2:
        m = monetary[repeat]
        try:
            with warnings.catch_warnings():
                gg = lifetimes.GammaGammaFitter(penalizer_coef=penalizer).fit(x[repeat], m)
        except lifetimes.utils.ConvergenceError as exc:
            raise ValueError(
                f"Gamma-Gamma did not converge on {len(m)} repeat customers with penalizer="
                f"{penalizer}; retry with a small positive penalizer or fit_spend=False"
            ) from exc
        p, q, v = (float(gg.params_[k]) for k in ("p", "q", "v"))
        spend_ll = -float(
            gg._negative_log_likelihood(
                np.log([p, q, v]), x[repeat], m, np.ones(len(m)), 0.0
            )
            * len(m)
        )
    elif fit_spend:
        logger.warning("Gamma-Gamma not fitted: %d customers with repeat purchases", n_repeat)

    return ValueModelFit(
        r=r,
        alpha=alpha,
        a=a,
        b=b,
        log_likelihood=log_likelihood,
        n_customers=summary.n_customers,
        p=p,
        q=q,
        v=v,
        spend_log_likelihood=spend_ll,
        n_repeat_customers=n_repeat,
        time_unit=summary.time_unit,
    )


def score_customers(
    fit: ValueModelFit,
    summary: CustomerSummary,
    *,
    horizon_days: float = 90.0,
) -> pd.DataFrame:
    """Expected purchases, P(alive), churn risk, expected spend and value per customer.

    Args:
        fit: From :func:`fit_value_model` (or rebuilt from stored parameters).
        summary: The customers to score, in the same ``time_unit`` as ``fit``.
        horizon_days: Forecast horizon in days (converted to the fit's time unit).

    Returns:
        A frame indexed by ``customer_id`` with columns ``expected_purchases`` (repeat occasions
        in the horizon), ``p_alive``, ``churn_risk`` (1 - p_alive), ``expected_spend`` (per
        occasion, Gamma-Gamma; the population mean for customers without repeats; NaN if
        Gamma-Gamma was not fitted) and ``expected_value`` (expected_purchases *
        expected_spend, undiscounted).

    Raises:
        ValueError: If the time units differ or ``horizon_days`` is not positive.
    """
    if fit.time_unit != summary.time_unit:
        raise ValueError(
            f"fit is in time unit {fit.time_unit!r} but summary in {summary.time_unit!r}; "
            f"summarize with time_unit={fit.time_unit!r}"
        )
    if not (horizon_days > 0 and math.isfinite(horizon_days)):
        raise ValueError(f"horizon_days must be a positive number, got {horizon_days!r}")
    lifetimes = _lifetimes()
    frame = summary.frame
    x = frame["frequency"].to_numpy(dtype=float)
    t_x = frame["recency"].to_numpy(dtype=float)
    age = frame["T"].to_numpy(dtype=float)
    horizon = horizon_days / TIME_UNITS[fit.time_unit]

    bg = lifetimes.BetaGeoFitter()
    bg.params_ = pd.Series({"r": fit.r, "alpha": fit.alpha, "a": fit.a, "b": fit.b})
    with warnings.catch_warnings():
        purchases = np.asarray(
            bg.conditional_expected_number_of_purchases_up_to_time(horizon, x, t_x, age), float
        )
        p_alive = np.asarray(bg.conditional_probability_alive(x, t_x, age), dtype=float)

    if fit.p is not None and fit.q is not None and fit.v is not None:
        gg = lifetimes.GammaGammaFitter()
        gg.params_ = pd.Series({"p": fit.p, "q": fit.q, "v": fit.v})
        m = frame["monetary_value"].to_numpy(dtype=float)
        spend = np.asarray(gg.conditional_expected_average_profit(x, m), dtype=float)
    else:
        spend = np.full(len(frame), np.nan)

    p_alive = np.clip(p_alive, 0.0, 1.0)
    return pd.DataFrame(
        {
            "expected_purchases": purchases,
            "p_alive": p_alive,
            "churn_risk": 1.0 - p_alive,
            "expected_spend": spend,
            "expected_value": purchases * spend,
        },
        index=frame.index,
    )

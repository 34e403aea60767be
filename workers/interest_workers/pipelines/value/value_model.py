"""Customer value forecasts: BG/NBD (purchases, dropout) and Gamma-Gamma (spend per occasion).

Pure pipeline: a :class:`~interest_workers.pipelines.value.value.CustomerSummary` in, a fit and a
frame of forecasts out (:func:`fit_value_model`, :func:`score_customers`); no database, no
Celery.

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
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from .value import TIME_UNITS, CustomerSummary

logger = logging.getLogger(__name__)

#: Name and version of the library that fits the buy-till-you-die models.
LIBRARY = "lifetimes 0.11.3"

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
        return asdict(self)


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


def _frequency_recency_age(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """BG/NBD's data per customer: repeat occasions ``x``, recency ``t_x`` and age ``T``."""
    x, t_x, age = (frame[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T"))
    return x, t_x, age


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
    x, t_x, age = _frequency_recency_age(frame)
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
    x, t_x, age = _frequency_recency_age(frame)
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

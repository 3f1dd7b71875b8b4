"""Baseline forecasts: seasonal-naive (same slot a day / a week earlier), persistence and
climatology (per JST month and time of day, from the training history).

Both respect the issue rule: a day-ahead forecast issued at 10:00 JST can only copy slots
observed by then, so "same slot one day ago" means the latest *observed* day (two days back
for afternoon slots). Point forecasts; `residual_quantiles` turns a point baseline into
quantiles calibrated on its own past errors so pinball losses compare like with like.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from forecasts.models.features import (
    CURTAILED_MW,
    DAY_AHEAD,
    JST,
    IssueRule,
    add_targets,
    forecastable,
    last_observed,
    latest_same_slot,
    regular_frame,
    same_slot_weeks_ago,
)
from forecasts.models.quantile_model import DEFAULT_QUANTILES, quantile_column
from inputs.errors import InputError

BASELINES = ("seasonal_naive_day", "seasonal_naive_week", "persistence")


def baseline_forecast(history: pd.DataFrame, target: str, method: str,
                      rule: IssueRule = DAY_AHEAD) -> pd.Series:
    """Point forecast of `target` for every forecastable slot of `history`.

    `method`: `seasonal_naive_day` (same slot, latest observed day), `seasonal_naive_week`
    (same slot one week earlier) or `persistence` (last value observed at issue time).
    Index = slot start UTC; NaN where the needed past is missing.
    """
    if method not in BASELINES:
        raise InputError("baseline", "method", method, f"must be one of {BASELINES}")
    frame = regular_frame(add_targets(history))
    if target not in frame.columns:
        raise InputError("baseline", "target", target, "not a column of the history")
    minutes = int(frame.attrs["slot_minutes"])
    y = frame[target]
    rules = {"seasonal_naive_day": latest_same_slot, "seasonal_naive_week": same_slot_weeks_ago,
             "persistence": last_observed}
    out = rules[method](y, rule, minutes)
    return out[forecastable(pd.DatetimeIndex(out.index), rule)].rename(method)


def residual_quantiles(point_train: pd.Series, actual_train: pd.Series, point: pd.Series,
                       quantiles: Sequence[float] = DEFAULT_QUANTILES,
                       non_negative: bool = True) -> pd.DataFrame:
    """Quantiles for a point forecast: point + the quantile of past residuals per JST hour.

    Residuals (actual − point) come from the training period; output columns `p10` … .
    """
    pair = pd.DataFrame({"p": point_train, "a": actual_train}).dropna()
    if pair.empty:
        raise InputError("baseline", "training residuals", 0, "no overlapping slots")
    resid = pair["a"] - pair["p"]
    hours = pd.DatetimeIndex(pair.index).tz_convert(JST).hour
    target_hours = pd.DatetimeIndex(point.index).tz_convert(JST).hour
    cols = {}
    for q in sorted(quantiles):
        by_hour = resid.groupby(hours).quantile(q)
        shift = by_hour.reindex(target_hours).fillna(float(resid.quantile(q))).to_numpy()
        values = point.to_numpy(dtype=float) + shift
        cols[quantile_column(q)] = np.clip(values, 0.0, None) if non_negative else values
    out = pd.DataFrame(cols, index=point.index)
    ordered = np.sort(out.to_numpy(), axis=1)
    return pd.DataFrame(ordered, index=out.index, columns=out.columns)


@dataclass(frozen=True)
class Climatology:
    """Per (JST month, time of day) statistics of a target over a training history.

    `table` columns: `mean`, quantile columns (`p10` …) and `p_event` (share of slots with
    the target above `CURTAILED_MW`); `by_slot` is the same per time of day only, used for
    months the history lacks.
    """

    target: str
    table: pd.DataFrame
    by_slot: pd.DataFrame


def _slot_keys(index: pd.DatetimeIndex) -> tuple[np.ndarray, np.ndarray]:
    jst = index.tz_convert(JST)
    return jst.month.to_numpy(), jst.hour.to_numpy() * 60 + jst.minute.to_numpy()


def fit_climatology(history: pd.DataFrame, target: str,
                    quantiles: Sequence[float] = DEFAULT_QUANTILES) -> Climatology:
    """Climatology of `target` from a tidy history (slots with a missing target skipped)."""
    frame = regular_frame(add_targets(history))
    y = frame[target].dropna()
    if y.empty:
        raise InputError("climatology", "history", 0, f"no {target} values")
    month, minute = _slot_keys(pd.DatetimeIndex(y.index))
    data = pd.DataFrame({"y": y.to_numpy(), "month": month, "minute": minute})

    def stats(keys: list[str]) -> pd.DataFrame:
        grouped = data.groupby(keys)["y"]
        cols = {"mean": grouped.mean(), "p_event": grouped.apply(
            lambda s: float((s > CURTAILED_MW).mean()))}
        for q in quantiles:
            cols[quantile_column(q)] = grouped.quantile(q)
        return pd.DataFrame(cols)

    return Climatology(target=target, table=stats(["month", "minute"]),
                       by_slot=stats(["minute"]))


def climatology_forecast(clim: Climatology, index: pd.DatetimeIndex) -> pd.DataFrame:
    """The climatology's columns for each slot of `index` (month missing → time of day)."""
    month, minute = _slot_keys(index)
    keyed = clim.table.reindex(pd.MultiIndex.from_arrays([month, minute]))
    fallback = clim.by_slot.reindex(minute)
    out = keyed.to_numpy()
    out = np.where(np.isnan(out), fallback.to_numpy(), out)
    return pd.DataFrame(out, index=index, columns=clim.table.columns)

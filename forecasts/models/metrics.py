"""Forecast error metrics: MAE, pinball (quantile) loss, and scores of event forecasts.

Value metrics take actual and predicted values in the target's unit (MW or gCO2/kWh) and
ignore slots where either is missing (NaN). Lower is better.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from inputs.errors import InputError

ArrayLike = np.ndarray | pd.Series | Iterable[float]


def _pair(actual: ArrayLike, predicted: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(actual, dtype=float)
    p = np.asarray(predicted, dtype=float)
    if a.shape != p.shape:
        raise InputError("metrics", "shape", (a.shape, p.shape), "actual and predicted differ")
    ok = np.isfinite(a) & np.isfinite(p)
    if not ok.any():
        raise InputError("metrics", "values", int(a.size), "no slot with both values")
    return a[ok], p[ok]


def mae(actual: ArrayLike, predicted: ArrayLike) -> float:
    """Mean absolute error, in the unit of the values."""
    a, p = _pair(actual, predicted)
    return float(np.mean(np.abs(a - p)))


def pinball_loss(actual: ArrayLike, predicted: ArrayLike, quantile: float) -> float:
    """Mean pinball loss of `predicted` as the `quantile` (0 < q < 1) of `actual`.

    Per slot: q·(a − p) if a ≥ p, else (1 − q)·(p − a). At q = 0.5 it is half the MAE.
    """
    if not 0.0 < quantile < 1.0:
        raise InputError("metrics", "quantile", quantile, "must be in (0, 1)")
    a, p = _pair(actual, predicted)
    diff = a - p
    return float(np.mean(np.maximum(quantile * diff, (quantile - 1.0) * diff)))


def quantile_scores(actual: ArrayLike, predictions: pd.DataFrame) -> dict[str, float]:
    """Pinball loss of each `pNN` column of `predictions` and their mean (`pinball_mean`)."""
    scores = {}
    for col in predictions.columns:
        if not (col.startswith("p") and col[1:].isdigit()):
            raise InputError("metrics", "column", col, "quantile columns are named pNN")
        scores[f"pinball_{col}"] = pinball_loss(actual, predictions[col], int(col[1:]) / 100)
    scores["pinball_mean"] = float(np.mean(list(scores.values())))
    return scores


def energy_weighted_mae(actual_mw: ArrayLike, predicted_mw: ArrayLike) -> float:
    """MAE weighted by the actual amount, MW: Σ a·|a − p| / Σ a.

    The error where the energy is (heavily curtailed slots count most); false alarms on
    slots with nothing curtailed weigh nothing here and are counted by `event_scores`.
    """
    a, p = _pair(actual_mw, predicted_mw)
    if a.sum() <= 0:
        return float("nan")
    return float(np.sum(a * np.abs(a - p)) / np.sum(a))


def event_scores(observed: ArrayLike, forecast: ArrayLike) -> dict[str, float]:
    """Categorical scores of yes/no event forecasts (booleans, NaN-free).

    `hit_rate` = hits / observed events (probability of detection);
    `false_alarm_ratio` = false alarms / forecast events (share of warnings that were wrong);
    `false_alarm_rate` = false alarms / observed non-events (probability of false detection).
    NaN where the denominator is 0.
    """
    o = np.asarray(observed, dtype=bool)
    f = np.asarray(forecast, dtype=bool)
    if o.shape != f.shape:
        raise InputError("metrics", "shape", (o.shape, f.shape), "observed and forecast differ")
    hits, alarms = int(np.sum(o & f)), int(np.sum(~o & f))

    def ratio(num: int, den: int) -> float:
        return num / den if den else float("nan")

    return {"hit_rate": ratio(hits, int(o.sum())),
            "false_alarm_ratio": ratio(alarms, int(f.sum())),
            "false_alarm_rate": ratio(alarms, int((~o).sum())),
            "events": float(o.sum()), "forecast_events": float(f.sum())}


def brier_score(observed: ArrayLike, probability: ArrayLike) -> float:
    """Mean squared error of event probabilities against 0/1 outcomes (lower is better)."""
    o, p = _pair(np.asarray(observed, dtype=float), probability)
    if np.any((p < 0) | (p > 1)):
        raise InputError("metrics", "probability", float(p.min()), "must be in [0, 1]")
    return float(np.mean((p - o) ** 2))


def reliability(observed: ArrayLike, probability: ArrayLike, bins: int = 10) -> pd.DataFrame:
    """Reliability table: per probability bin, mean forecast, observed frequency, count."""
    o, p = _pair(np.asarray(observed, dtype=float), probability)
    which = np.minimum((p * bins).astype(int), bins - 1)
    frame = pd.DataFrame({"bin": which, "forecast": p, "observed": o})
    return frame.groupby("bin").agg(forecast=("forecast", "mean"),
                                    observed=("observed", "mean"),
                                    count=("observed", "size"))

"""Forecast error metrics: mean absolute error and pinball (quantile) loss.

Both take actual and predicted values in the target's unit (MW or gCO2/kWh) and ignore
slots where either is missing (NaN). Lower is better.
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

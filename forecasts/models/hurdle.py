"""Two-part (hurdle) model for curtailment, MW: P(slot curtails) × the amount if it does.

A classifier gives the event probability P(curtailment > `CURTAILED_MW`); quantile
regressors fitted on curtailed slots only give the amount at `CONDITIONAL_LEVELS`. The
unconditional q-quantile of the mixture is 0 when q ≤ 1 − P, else the conditional quantile
at level (q − (1 − P)) / P (linear between levels, flat beyond them). So p10/p50/p90 reach
zero exactly where curtailment is unlikely, and a direct booster's failure mode (p90 stuck
at 0 on a target that is 0 most of the time) is avoided.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

from forecasts.models.boosting import (
    ModelConfig,
    event_classifier,
    limited_threads,
    quantile_regressor,
)
from forecasts.models.features import CURTAILED_MW
from inputs.errors import InputError

CONDITIONAL_LEVELS = (0.05, 0.25, 0.5, 0.75, 0.95)
"""Quantile levels of the amount given curtailment."""
MIN_EVENTS = 20
"""Fewest curtailed training slots the hurdle model learns from."""
EVENT_CONFIG = ModelConfig(max_iter=150, learning_rate=0.03, max_leaf_nodes=5,
                           min_samples_leaf=200, l2_regularization=1.0)
"""Event classifier settings: small, heavily regularised trees. Chosen among four
candidates by the Brier score of monthly-refit forecasts of Jul–Dec 2022 (Kyushu, Chugoku;
before every test year): 0.0277 against 0.0398 with the regressors' defaults."""


@dataclass(frozen=True)
class Hurdle:
    """A fitted two-part model (features as numpy columns, amounts in MW)."""

    classifier: HistGradientBoostingClassifier = field(repr=False)
    regressors: dict[float, HistGradientBoostingRegressor] = field(repr=False)
    """Amount given an event, one booster per `CONDITIONAL_LEVELS` level."""


def fit_hurdle(x: np.ndarray, y_mw: np.ndarray, cfg: ModelConfig,
               event_cfg: ModelConfig = EVENT_CONFIG) -> Hurdle:
    """Fit the event classifier (`event_cfg`) on all rows and the amount regressors
    (`cfg`) on event rows."""
    event = y_mw > CURTAILED_MW
    if event.sum() < MIN_EVENTS or event.all():
        raise InputError("quantile model", "history", int(event.sum()),
                         f"too few slots with curtailment_mw > {CURTAILED_MW} MW to fit "
                         f"(need {MIN_EVENTS})")
    classifier = event_classifier(event_cfg)
    regressors = {}
    with limited_threads(max(cfg.threads, event_cfg.threads)):
        classifier.fit(x, event)
        for q in CONDITIONAL_LEVELS:
            reg = quantile_regressor(cfg, q, int(event.sum()))
            regressors[q] = reg.fit(x[event], y_mw[event])
    return Hurdle(classifier=classifier, regressors=regressors)


def event_probability(hurdle: Hurdle, x: np.ndarray) -> np.ndarray:
    """P(curtailment > `CURTAILED_MW`) per row."""
    with limited_threads(1):
        return hurdle.classifier.predict_proba(x)[:, 1]


def hurdle_quantiles(hurdle: Hurdle, x: np.ndarray, quantiles: tuple[float, ...]
                     ) -> np.ndarray:
    """Unconditional quantiles of the amount, MW (rows = slots, columns = `quantiles`)."""
    p_event = event_probability(hurdle, x)
    levels = np.asarray(sorted(hurdle.regressors))
    with limited_threads(1):
        cond = np.column_stack([hurdle.regressors[q].predict(x) for q in levels])
    cond = np.sort(np.clip(cond, 0.0, None), axis=1)
    return np.column_stack([mixture_quantile(q, p_event, levels, cond) for q in quantiles])


def mixture_quantile(q: float, p_event: np.ndarray, levels: np.ndarray,
                     cond: np.ndarray) -> np.ndarray:
    """q-quantile of a mixture: 0 with prob 1 − p_event, else the conditional quantiles
    `cond` (rows = slots, columns = `levels`), linear between levels and flat beyond."""
    level = (q - (1.0 - p_event)) / np.maximum(p_event, 1e-9)
    r = np.clip(level, levels[0], levels[-1])
    hi = np.clip(np.searchsorted(levels, r, side="left"), 1, len(levels) - 1)
    lo = hi - 1
    w = (r - levels[lo]) / (levels[hi] - levels[lo])
    rows = np.arange(len(r))
    amount = cond[rows, lo] * (1.0 - w) + cond[rows, hi] * w
    return np.where(level <= 0.0, 0.0, amount)

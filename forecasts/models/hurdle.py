"""Two-part (hurdle) model for curtailment, MW: P(slot curtails) × the amount if it does.

A classifier gives the event probability P(curtailment > `CURTAILED_MW`); quantile
regressors fitted on curtailed slots only give the amount at `CONDITIONAL_LEVELS`. The
unconditional q-quantile of the mixture is 0 when q ≤ 1 − P, else the conditional quantile
at level (q − (1 − P)) / P (linear between levels, flat beyond them). So p10/p50/p90 reach
zero exactly where curtailment is unlikely, and a direct booster's failure mode (p90 stuck
at 0 on a target that is 0 most of the time) is avoided.

The event probability is recalibrated (Platt scaling) on cross-fitted probabilities of the
training history itself: the rows of each fold (every `CALIBRATION_FOLDS`-th month) are
predicted by a classifier fitted on the other folds, and a logistic map from those
out-of-fold log-odds to the outcomes is applied to the final classifier. Where the events
do not generalise from month to month the map shrinks the probability toward the base
rate (Hokkaido, 20 curtailed slots on 5 days before 2023: slope 0.5, intercept −2.3, so
its p90 no longer warns of curtailment that never comes). It cannot see a change between
years that the history does not hold: Tohoku's one curtailment season (spring 2022) says
its confident slots curtail, and in 2023 those given P > 0.5 curtailed 39 % of the time.
Only the training history is used: a forecast issued at τ depends on data before τ only.

Nor can the fit see a change of level after it: Chugoku curtailed in 18 % of April 2023's
slots, where its 2021–2022 springs held 2–5 % and the model said 4.7 %. At each issue time
the probabilities are therefore re-levelled to the outcomes of the last `RECENT_DAYS` days
(`recent_shift`: one log-odds shift, held back by `RECENT_PRIOR_DAYS` days of
pseudo-slots at the model's own probabilities), which the issue time already knows. On
Chugoku's hourly 2023 (model fitted on data before 2023) the Brier score went from 0.0307
to 0.0257 and the monthly mean probability from 0.064/0.033 to 0.146/0.130 in April/May
(observed 0.181/0.156).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.linear_model import LogisticRegression

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
CALIBRATION_FOLDS = 4
"""Folds of the cross-fitted calibration: month m of the history is in fold m mod 4, so
each fold holds out every fourth month (one spring month, not a whole spring)."""
RECENT_DAYS = 14
"""Days before an issue time whose outcomes re-level the event probability."""
RECENT_PRIOR_DAYS = 1.0
"""Days of pseudo-slots at the model's own probabilities that hold the re-levelling back
(a fortnight of outcomes weighs 14 : 1). Chosen before any test year by
`benchmarks/relevel_prior.py`: the Brier score of monthly-refit forecasts of each area's
validation split, pooled over Kyushu, Chugoku, Shikoku, Tohoku and Hokkaido, is lowest
for 0.25–2 days (0.00559; 7 days 0.00566, 28 days 0.00595). Kyushu, with 121 of the 131
validation events, wants little weight; Chugoku and Hokkaido would want more."""
MAX_SHIFT = 4.0
"""Largest log-odds shift of the re-levelling (a factor of about 55 on small odds)."""
MIN_FOLD_EVENTS = 5
"""Fewest events a fold's training part needs; with fewer, its held-out rows get the
training part's event frequency (what a model that cannot be fitted would say)."""


@dataclass(frozen=True)
class Hurdle:
    """A fitted two-part model (features as numpy columns, amounts in MW)."""

    classifier: HistGradientBoostingClassifier = field(repr=False)
    regressors: dict[float, HistGradientBoostingRegressor] = field(repr=False)
    """Amount given an event, one booster per `CONDITIONAL_LEVELS` level."""
    calibration: tuple[float, float] | None = None
    """Platt map (slope, intercept) of the classifier's log-odds; None: uncalibrated."""


def fit_hurdle(x: np.ndarray, y_mw: np.ndarray, cfg: ModelConfig,
               event_cfg: ModelConfig = EVENT_CONFIG,
               months: np.ndarray | None = None) -> Hurdle:
    """Fit the event classifier (`event_cfg`) on all rows and the amount regressors
    (`cfg`) on event rows. With `months` (a month number per row, e.g. 12·year + month),
    the event probability is calibrated on folds of months (`cross_fitted_probability`,
    `platt`)."""
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
    calibration = None
    if months is not None:
        oof = cross_fitted_probability(x, event, np.asarray(months) % CALIBRATION_FOLDS,
                                       event_cfg)
        calibration = platt(oof, event)
    return Hurdle(classifier=classifier, regressors=regressors, calibration=calibration)


def cross_fitted_probability(x: np.ndarray, event: np.ndarray, folds: np.ndarray,
                             event_cfg: ModelConfig = EVENT_CONFIG) -> np.ndarray:
    """Out-of-fold event probability per row: each fold predicted by a classifier fitted
    on the other folds (the training part's event frequency when it has fewer than
    `MIN_FOLD_EVENTS` events or no non-events)."""
    oof = np.empty(len(event), dtype=float)
    with limited_threads(event_cfg.threads):
        for fold in np.unique(folds):
            held = folds == fold
            train = event[~held]
            if train.sum() < MIN_FOLD_EVENTS or train.all():
                oof[held] = train.mean() if train.size else 0.0
                continue
            clf = event_classifier(event_cfg).fit(x[~held], train)
            oof[held] = clf.predict_proba(x[held])[:, 1]
    return oof


def platt(probability: np.ndarray, event: np.ndarray) -> tuple[float, float]:
    """Platt scaling: (slope, intercept) of P(event) = σ(slope · logit(p) + intercept),
    fitted by maximum likelihood with Platt's smoothed targets ((n₊ + 1)/(n₊ + 2) and
    1/(n₋ + 2)), which keep a map fitted on few events from becoming overconfident."""
    n_pos = int(event.sum())
    n_neg = int(event.size - n_pos)
    target = np.where(event, (n_pos + 1.0) / (n_pos + 2.0), 1.0 / (n_neg + 2.0))
    z = _logit(probability)[:, None]
    both = np.concatenate([z, z])
    labels = np.concatenate([np.ones(len(z)), np.zeros(len(z))])
    weights = np.concatenate([target, 1.0 - target])
    fit = LogisticRegression(C=1e6, max_iter=1000).fit(both, labels, sample_weight=weights)
    return float(fit.coef_[0, 0]), float(fit.intercept_[0])


def _logit(p: np.ndarray) -> np.ndarray:
    q = np.clip(np.asarray(p, dtype=float), 1e-6, 1.0 - 1e-6)
    return np.log(q / (1.0 - q))


def event_probability(hurdle: Hurdle, x: np.ndarray) -> np.ndarray:
    """P(curtailment > `CURTAILED_MW`) per row."""
    with limited_threads(1):
        p = hurdle.classifier.predict_proba(x)[:, 1]
    if hurdle.calibration is None:
        return p
    slope, intercept = hurdle.calibration
    return 1.0 / (1.0 + np.exp(-(slope * _logit(p) + intercept)))


def recent_shift(p_event: np.ndarray, event: np.ndarray, prior_slots: float) -> float:
    """The log-odds shift δ that levels probabilities `p_event` of recent slots with their
    outcomes `event` (0/1): Σ σ(logit p + δ) = Σ event, with `prior_slots` pseudo-slots on
    both sides at the mean probability (shifted on the left, as forecast on the right), so
    a window with few slots or events moves it less. 0 without slots; within
    ±`MAX_SHIFT`."""
    if len(p_event) == 0:
        return 0.0
    w, logit = prior_slots, _logit(p_event)
    target = float(np.sum(event)) + w * float(np.mean(p_event))
    lo, hi = -MAX_SHIFT, MAX_SHIFT
    for _ in range(40):  # bisection: the left side rises with δ
        mid = 0.5 * (lo + hi)
        level = 1.0 / (1.0 + np.exp(-(logit + mid)))
        if level.sum() + w * level.mean() < target:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def shifted(p_event: np.ndarray, delta: np.ndarray | float) -> np.ndarray:
    """`p_event` with its log-odds moved by `delta`."""
    return 1.0 / (1.0 + np.exp(-(_logit(p_event) + delta)))


def hurdle_quantiles(hurdle: Hurdle, x: np.ndarray, quantiles: tuple[float, ...],
                     p_event: np.ndarray | None = None) -> np.ndarray:
    """Unconditional quantiles of the amount, MW (rows = slots, columns = `quantiles`), with
    the event probability `p_event` (default: the classifier's)."""
    if p_event is None:
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

"""Quantile gradient boosting for curtailment (MW) and carbon intensity (gCO2/kWh).

Features: the leakage-free table of `forecasts.models.features` (calendar, clear-sky
GHI, lagged target, demand and solar). Two forms, both scikit-learn histogram boosting:

* direct (carbon): one `HistGradientBoostingRegressor(loss="quantile")` per quantile;
* hurdle (curtailment, zero most of the time): a classifier for P(curtailment > 0) and
  quantile regressors of the amount on curtailed slots at `CONDITIONAL_LEVELS`; the
  unconditional q-quantile is 0 when q ≤ 1 − P, else the conditional quantile at
  (q − (1 − P)) / P (linear between levels). A direct quantile booster on a target that is
  0 in ~90 % of slots learns almost nothing (its p90 stays at 0) — hence this form.

Trains in seconds on one core for a year of hourly slots. Predictions are non-negative and
sorted so that p10 ≤ p50 ≤ p90.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from threadpoolctl import threadpool_limits

from forecasts.forecast import Forecast
from forecasts.models.features import (
    DAY_AHEAD,
    TARGETS,
    IssueRule,
    add_targets,
    build_features,
    forecastable,
    issue_times,
    regular_frame,
)
from inputs.errors import InputError

DEFAULT_QUANTILES = (0.1, 0.5, 0.9)
HURDLE_TARGETS = ("curtailment_mw",)
"""Targets modelled as P(> 0) × conditional amount."""
POSITIVE_MW = 1.0
"""Curtailment above this counts as 'curtailed' for the hurdle classifier, MW."""
CONDITIONAL_LEVELS = (0.05, 0.25, 0.5, 0.75, 0.95)
"""Quantile levels of the amount given curtailment."""


@dataclass(frozen=True)
class ModelConfig:
    """Gradient-boosting settings (sklearn names)."""

    max_iter: int = 200
    learning_rate: float = 0.05
    max_leaf_nodes: int = 31
    min_samples_leaf: int = 40
    l2_regularization: float = 0.0
    seed: int = 0
    threads: int = 1
    """OpenMP threads per fit; 1 avoids spin-wait slowdowns on shared small machines."""


@dataclass(frozen=True)
class QuantileModel:
    """A fitted quantile model for one area, target and issue rule."""

    area: str
    target: str
    rule: IssueRule
    slot_minutes: int
    quantiles: tuple[float, ...]
    feature_names: tuple[str, ...]
    regressors: dict[float, HistGradientBoostingRegressor] = field(repr=False)
    """Direct: one per output quantile. Hurdle: one per `CONDITIONAL_LEVELS` level."""
    classifier: HistGradientBoostingClassifier | None = field(default=None, repr=False)
    """Hurdle form only: P(target > `POSITIVE_MW`)."""


def quantile_column(q: float) -> str:
    """Column name of quantile `q` (0.1 → `p10`)."""
    return f"p{round(q * 100):d}"


def fit_quantile_model(history: pd.DataFrame, target: str, rule: IssueRule = DAY_AHEAD,
                       quantiles: Sequence[float] = DEFAULT_QUANTILES,
                       config: ModelConfig | None = None) -> QuantileModel:
    """Fit one booster per quantile on a tidy history of one area.

    `target` is `curtailment_mw` or `carbon_gco2_per_kwh` (added by `add_targets` if absent).
    Slots with an unknown target are skipped.
    """
    if target not in TARGETS:
        raise InputError("quantile model", "target", target, f"must be one of {TARGETS}")
    qs = tuple(sorted(float(q) for q in quantiles))
    if not qs or any(not 0.0 < q < 1.0 for q in qs):
        raise InputError("quantile model", "quantiles", list(quantiles), "each in (0, 1)")
    cfg = config or ModelConfig()
    frame = regular_frame(add_targets(history))
    feats = build_features(frame, target, rule)
    y = frame[target].to_numpy(dtype=float)
    use = forecastable(feats.index, rule) & np.isfinite(y)
    if use.sum() < 48:
        raise InputError("quantile model", "history", int(use.sum()), "too few slots to fit")
    x, target_values = feats.to_numpy()[use], y[use]
    classifier = None
    if target in HURDLE_TARGETS:
        positive = target_values > POSITIVE_MW
        if positive.sum() < 20 or positive.all():
            raise InputError("quantile model", "history", int(positive.sum()),
                             f"too few slots with {target} > {POSITIVE_MW} MW to fit")
        classifier = HistGradientBoostingClassifier(
            max_iter=cfg.max_iter, learning_rate=cfg.learning_rate,
            max_leaf_nodes=cfg.max_leaf_nodes, min_samples_leaf=cfg.min_samples_leaf,
            l2_regularization=cfg.l2_regularization, random_state=cfg.seed)
        with threadpool_limits(cfg.threads):
            classifier.fit(x, positive)
        x, target_values = x[positive], target_values[positive]
        levels = CONDITIONAL_LEVELS
    else:
        levels = qs
    regressors = {}
    for q in levels:
        reg = HistGradientBoostingRegressor(
            loss="quantile", quantile=q, max_iter=cfg.max_iter,
            learning_rate=cfg.learning_rate, max_leaf_nodes=cfg.max_leaf_nodes,
            min_samples_leaf=min(cfg.min_samples_leaf, max(5, len(x) // 20)),
            l2_regularization=cfg.l2_regularization, random_state=cfg.seed)
        with threadpool_limits(cfg.threads):
            reg.fit(x, target_values)
        regressors[q] = reg
    return QuantileModel(area=str(frame.attrs["area"]), target=target, rule=rule,
                         slot_minutes=int(frame.attrs["slot_minutes"]), quantiles=qs,
                         feature_names=tuple(feats.columns), regressors=regressors,
                         classifier=classifier)


def predict(model: QuantileModel, history: pd.DataFrame,
            issued_at: datetime | None = None) -> pd.DataFrame:
    """Quantile forecasts (columns `p10`, `p50`, `p90` …, index = slot start UTC).

    With `issued_at` (tz-aware): the delivery day of the model's rule issued then (history
    after `issued_at` is ignored; the issue time must match the rule's hour). Without it:
    every forecastable slot of `history` (rolling evaluation; features only use data
    observed before each slot's own issue time).
    """
    if issued_at is None:
        frame = regular_frame(add_targets(history))
        feats = build_features(frame, model.target, model.rule)
        feats = feats[forecastable(feats.index, model.rule)]
        return _predict_features(model, feats)
    issued = pd.Timestamp(issued_at)
    if issued.tzinfo is None:
        raise InputError("predict", "issued_at", str(issued_at), "must be tz-aware")
    issued = issued.tz_convert("UTC").as_unit("ns")
    day_start = (issued.tz_convert("Asia/Tokyo").normalize()
                 + pd.Timedelta(days=model.rule.day_offset)).tz_convert("UTC")
    day = pd.date_range(day_start, periods=24 * 60 // model.slot_minutes,
                        freq=f"{model.slot_minutes}min", unit="ns")
    if not (issue_times(day[:1], model.rule) == issued).all():
        raise InputError("predict", "issued_at", issued.isoformat(),
                         f"not the {model.rule.name} issue time of its delivery day")
    past = history[pd.DatetimeIndex(history["time_utc"]) < issued]
    if past.empty:
        raise InputError("predict", "history", 0, f"no observations before {issued}")
    frame = regular_frame(add_targets(past), end=day[-1] + pd.Timedelta(
        minutes=model.slot_minutes))
    feats = build_features(frame, model.target, model.rule).reindex(day)
    feats = feats[forecastable(feats.index, model.rule)]
    return _predict_features(model, feats)


def _predict_features(model: QuantileModel, feats: pd.DataFrame) -> pd.DataFrame:
    if tuple(feats.columns) != model.feature_names:
        raise InputError("predict", "features", list(feats.columns),
                         f"history lacks columns the model was trained with "
                         f"({list(model.feature_names)})")
    x = feats.to_numpy()
    with threadpool_limits(1):
        if model.classifier is None:
            raw = np.column_stack([model.regressors[q].predict(x) for q in model.quantiles])
        else:
            p_pos = model.classifier.predict_proba(x)[:, 1]
            levels = sorted(model.regressors)
            cond = np.sort(np.column_stack([model.regressors[q].predict(x) for q in levels]),
                           axis=1)
            raw = np.column_stack([_hurdle_quantile(q, p_pos, np.asarray(levels), cond)
                                   for q in model.quantiles])
    values = np.sort(np.clip(raw, 0.0, None), axis=1)  # both targets are ≥ 0
    cols = [quantile_column(q) for q in model.quantiles]
    return pd.DataFrame(values, index=feats.index, columns=cols)


def _hurdle_quantile(q: float, p_pos: np.ndarray, levels: np.ndarray,
                     cond: np.ndarray) -> np.ndarray:
    """q-quantile of a mixture: 0 with prob 1 − p_pos, else the conditional quantiles `cond`
    (rows = slots, columns = `levels`), linear between levels and flat beyond them."""
    level = (q - (1.0 - p_pos)) / np.maximum(p_pos, 1e-9)
    r = np.clip(level, levels[0], levels[-1])
    hi = np.clip(np.searchsorted(levels, r, side="left"), 1, len(levels) - 1)
    lo = hi - 1
    w = (r - levels[lo]) / (levels[hi] - levels[lo])
    rows = np.arange(len(r))
    amount = cond[rows, lo] * (1.0 - w) + cond[rows, hi] * w
    return np.where(level <= 0.0, 0.0, amount)


def to_forecast(region: str, curtailment: pd.DataFrame, carbon: pd.DataFrame,
                slot_minutes: int, issued_at: datetime | None = None,
                source: str = "quantile-model") -> Forecast:
    """Quantile predictions of both targets → `Forecast` (p50 as the point values).

    Other quantile columns become `quantiles` keys such as `curtailment_mw_p10`.
    Both frames must cover the same slots.
    """
    if "p50" not in curtailment.columns or "p50" not in carbon.columns:
        raise InputError("to_forecast", "columns", list(curtailment.columns), "need p50")
    if not curtailment.index.equals(carbon.index):
        raise InputError("to_forecast", "index", len(carbon), "curtailment and carbon slots differ")
    quantiles = {}
    for name, pred in (("curtailment_mw", curtailment), ("carbon_gco2_per_kwh", carbon)):
        for col in pred.columns:
            quantiles[f"{name}_{col}"] = pred[col].to_numpy(dtype=float)
    return Forecast(
        region=region,
        slot_starts=pd.DatetimeIndex(curtailment.index).as_unit("ns"),
        slot_minutes=slot_minutes,
        carbon_gco2_per_kwh=carbon["p50"].to_numpy(dtype=float),
        curtailment_mw=curtailment["p50"].to_numpy(dtype=float),
        quantiles=quantiles,
        issued_at=issued_at,
        source=source,
    )

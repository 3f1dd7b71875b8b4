"""Quantile forecasts of curtailment (MW) and carbon intensity (gCO2/kWh) per area.

Features: the leakage-free table of `forecasts.models.features` (calendar with Japanese
holidays, clear-sky GHI, the target's recent values, demand, solar fleet, nuclear). Two
forms, both scikit-learn histogram boosting on one thread:

* relative (carbon): one `HistGradientBoostingRegressor(loss="quantile")` per quantile of
  the *change* from a reference — the mean of the same slot over the latest 7 observed
  days — with the target's own lagged values also taken relative to it. A level learnt
  from training years does not transfer when the mix shifts (Kyushu's nuclear fleet ran
  ~1 GW more in 2023 than in 2022); a change from the recent level does.
* hurdle (curtailment, zero most of the time): `forecasts.models.hurdle`, an event
  probability times the amount given curtailment, with p10/p50/p90 that reach zero.

Trains in seconds for a year of hourly slots. Predictions are non-negative and sorted so
that p10 ≤ p50 ≤ p90.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingRegressor

from forecasts.forecast import Forecast
from forecasts.models.boosting import ModelConfig, limited_threads, quantile_regressor
from forecasts.models.features import (
    CURTAILED_MW,
    DAY_AHEAD,
    JST,
    TARGETS,
    IssueRule,
    add_targets,
    build_features,
    forecastable,
    issue_times,
    regular_frame,
)
from forecasts.models.hurdle import (
    EVENT_CONFIG,
    RECENT_DAYS,
    RECENT_PRIOR_DAYS,
    Hurdle,
    event_probability,
    fit_hurdle,
    hurdle_quantiles,
    recent_shift,
    shifted,
)
from inputs.errors import InputError

__all__ = ["DEFAULT_QUANTILES", "ModelConfig", "QuantileModel", "fit_quantile_model",
           "predict", "predict_event_probability", "quantile_column", "to_forecast"]

DEFAULT_QUANTILES = (0.1, 0.5, 0.9)
HURDLE_TARGETS = ("curtailment_mw",)
"""Targets modelled as P(event) × conditional amount."""
REFERENCES = ("y_same_slot_7d", "y_same_slot", "y_last")
"""Reference of the relative form: the first of these features that is known per slot."""


@dataclass(frozen=True)
class QuantileModel:
    """A fitted quantile model for one area, target and issue rule."""

    area: str
    target: str
    rule: IssueRule
    slot_minutes: int
    quantiles: tuple[float, ...]
    feature_names: tuple[str, ...]
    """Columns of `build_features` the model was trained on (before the relative shift)."""
    regressors: dict[float, HistGradientBoostingRegressor] = field(repr=False)
    """Relative form: one per output quantile (empty for the hurdle form)."""
    hurdle: Hurdle | None = field(default=None, repr=False)
    """Hurdle form only."""
    event_threshold: float = 0.5
    """Hurdle form: a slot is forecast to curtail when its event probability reaches this
    (set from a validation period, e.g. `forecasts.models.backtest.choose_threshold`)."""
    recent_prior_days: float = RECENT_PRIOR_DAYS
    """Hurdle form: days of pseudo-slots at the model's own probabilities that hold the
    re-levelling to recent outcomes back (`hurdle.recent_shift`)."""


def quantile_column(q: float) -> str:
    """Column name of quantile `q` (0.1 → `p10`)."""
    return f"p{round(q * 100):d}"


def fit_quantile_model(history: pd.DataFrame, target: str, rule: IssueRule = DAY_AHEAD,
                       quantiles: Sequence[float] = DEFAULT_QUANTILES,
                       config: ModelConfig | None = None,
                       event_config: ModelConfig | None = None,
                       exogenous: pd.DataFrame | None = None,
                       calibrate: bool = True) -> QuantileModel:
    """Fit the model of `target` on a tidy history of one area.

    `config` sets the quantile regressors, `event_config` the hurdle's event classifier
    (default `forecasts.models.hurdle.EVENT_CONFIG`). `exogenous`: forecasts by others as
    extra features (`build_features`); `predict` then needs them too. `calibrate`
    (curtailment): Platt-calibrate the event probability on cross-fitted folds of months
    of the same history (`forecasts.models.hurdle`).
    `target` is `curtailment_mw` or `carbon_gco2_per_kwh` (added by `add_targets` if absent).
    Slots with an unknown target are skipped. Raises `InputError` when the history is too
    short, or (curtailment) has too few curtailed slots to learn from.
    """
    if target not in TARGETS:
        raise InputError("quantile model", "target", target, f"must be one of {TARGETS}")
    qs = tuple(sorted(float(q) for q in quantiles))
    if not qs or any(not 0.0 < q < 1.0 for q in qs):
        raise InputError("quantile model", "quantiles", list(quantiles), "each in (0, 1)")
    cfg = config or ModelConfig()
    frame = regular_frame(add_targets(history))
    y = frame[target].to_numpy(dtype=float)
    if not np.isfinite(y).any():
        raise InputError("history", target, "missing",
                         "not reported by the source (unknown, not zero)")
    feats = build_features(frame, target, rule, exogenous)
    use = forecastable(pd.DatetimeIndex(feats.index), rule) & np.isfinite(y)
    hurdle, regressors = None, {}
    if target in HURDLE_TARGETS:
        if use.sum() < 48:
            raise InputError("quantile model", "history", int(use.sum()), "too few slots to fit")
        jst = pd.DatetimeIndex(feats.index).tz_convert(JST)
        months = (jst.year * 12 + jst.month).to_numpy()[use] if calibrate else None
        hurdle = fit_hurdle(feats.to_numpy()[use], y[use], cfg, event_config or EVENT_CONFIG,
                            months)
    else:
        x, ref = _relative(feats)
        use &= np.isfinite(ref)
        if use.sum() < 48:
            raise InputError("quantile model", "history", int(use.sum()), "too few slots to fit")
        with limited_threads(cfg.threads):
            for q in qs:
                reg = quantile_regressor(cfg, q, int(use.sum()))
                regressors[q] = reg.fit(x[use], y[use] - ref[use])
    return QuantileModel(area=str(frame.attrs["area"]), target=target, rule=rule,
                         slot_minutes=int(frame.attrs["slot_minutes"]), quantiles=qs,
                         feature_names=tuple(feats.columns), regressors=regressors,
                         hurdle=hurdle)


def _relative(feats: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(features with the target's own lags made relative to the reference, reference).

    The reference's level itself is left out: trees cannot extrapolate a level they never
    saw (a synthetic 450 → 330 gCO2/kWh shift left a +13 bias with it), and on Jul–Dec
    2022 it made no difference (Kyushu pinball 9.27 with, 9.31 without)."""
    ref = pd.Series(np.nan, index=feats.index)
    for name in REFERENCES:
        ref = ref.fillna(feats[name])
    x = feats.copy()
    own = [c for c in feats.columns if c.startswith("y_")]
    x[own] = feats[own].sub(ref, axis=0)
    return x.to_numpy(dtype=float), ref.to_numpy(dtype=float)


def predict(model: QuantileModel, history: pd.DataFrame,
            issued_at: datetime | None = None,
            exogenous: pd.DataFrame | None = None) -> pd.DataFrame:
    """Quantile forecasts (columns `p10`, `p50`, `p90` …, index = slot start UTC).

    With `issued_at` (tz-aware): the delivery day of the model's rule issued then (history
    after `issued_at` is ignored; the issue time must match the rule's hour). Without it:
    every forecastable slot of `history` (rolling evaluation; features only use data
    observed before each slot's own issue time). `exogenous` as given to the fit.
    """
    feats = _features(model, history, issued_at, exogenous)
    x = feats.to_numpy()
    if model.hurdle is not None:
        p_event = _event_probability(model, history, issued_at, exogenous, feats)
        raw = hurdle_quantiles(model.hurdle, x, model.quantiles, p_event)
    else:
        xr, ref = _relative(feats)
        with limited_threads(1):
            raw = np.column_stack([model.regressors[q].predict(xr) for q in model.quantiles])
        raw = raw + ref[:, None]
    values = np.sort(np.clip(raw, 0.0, None), axis=1)  # both targets are ≥ 0
    cols = [quantile_column(q) for q in model.quantiles]
    return pd.DataFrame(values, index=feats.index, columns=cols)


def predict_event_probability(model: QuantileModel, history: pd.DataFrame,
                              issued_at: datetime | None = None,
                              exogenous: pd.DataFrame | None = None) -> pd.Series:
    """P(curtailment > `CURTAILED_MW`) per slot (hurdle models; same slots as `predict`)."""
    if model.hurdle is None:
        raise InputError("predict", "model", model.target, "not an event (hurdle) model")
    feats = _features(model, history, issued_at, exogenous)
    return pd.Series(_event_probability(model, history, issued_at, exogenous, feats),
                     index=feats.index, name="p_event")


def _event_probability(model: QuantileModel, history: pd.DataFrame,
                       issued_at: datetime | None, exogenous: pd.DataFrame | None,
                       feats: pd.DataFrame) -> np.ndarray:
    """The hurdle's event probability of the slots of `feats`, re-levelled at each slot's
    issue time to the outcomes of the `RECENT_DAYS` days before it that the issue time
    knows (`hurdle.recent_shift`; their probabilities as forecast when they were issued)."""
    assert model.hurdle is not None
    p_event = event_probability(model.hurdle, feats.to_numpy())
    past, past_feats, past_p = history, feats, p_event
    if issued_at is not None:  # the recent slots' own forecasts, as the rolling mode has them
        issued = pd.Timestamp(issued_at).tz_convert("UTC")
        past = history[pd.DatetimeIndex(history["time_utc"]) < issued]
        past_feats = _features(model, past, None, exogenous)
        past_p = event_probability(model.hurdle, past_feats.to_numpy())
    idx = pd.DatetimeIndex(past_feats.index)
    outcome = regular_frame(add_targets(past))[model.target].reindex(idx).to_numpy()
    ends = idx + pd.Timedelta(minutes=model.slot_minutes)
    issues, of_slot = np.unique(issue_times(pd.DatetimeIndex(feats.index), model.rule),
                                return_inverse=True)
    prior_slots = model.recent_prior_days * 24 * 60 / model.slot_minutes
    delta = np.zeros(len(issues))
    for i, t in enumerate(pd.DatetimeIndex(issues)):
        window = slice(idx.searchsorted(t - pd.Timedelta(days=RECENT_DAYS)),
                       ends.searchsorted(t, side="right"))
        known = np.isfinite(outcome[window])
        delta[i] = recent_shift(past_p[window][known], outcome[window][known] > CURTAILED_MW,
                                prior_slots)
    return shifted(p_event, delta[of_slot])


def _features(model: QuantileModel, history: pd.DataFrame, issued_at: datetime | None,
              exogenous: pd.DataFrame | None) -> pd.DataFrame:
    """The feature rows of the slots to forecast (see `predict`)."""
    if issued_at is None:
        frame = regular_frame(add_targets(history))
        feats = build_features(frame, model.target, model.rule, exogenous)
        feats = feats[forecastable(pd.DatetimeIndex(feats.index), model.rule)]
    else:
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
        feats = build_features(frame, model.target, model.rule, exogenous).reindex(day)
        feats = feats[forecastable(pd.DatetimeIndex(feats.index), model.rule)]
    if tuple(feats.columns) != model.feature_names:
        raise InputError("predict", "features", list(feats.columns),
                         f"history lacks columns the model was trained with "
                         f"({list(model.feature_names)})")
    return feats


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

"""Calibration on synthetic data with a known distribution: event probabilities match the
true frequencies, p10/p50/p90 cover 10/50/90 %, and the carbon model follows a level shift
it never saw in training."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta, timezone

import numpy as np
import pandas as pd
import pytest

from forecasts.models import DAY_AHEAD, fit_quantile_model, predict
from forecasts.models.hurdle import RECENT_DAYS, RECENT_PRIOR_DAYS
from forecasts.models.metrics import brier_score
from forecasts.models.quantile_model import predict_event_probability

JST = timezone(timedelta(hours=9))
START = pd.Timestamp(2021, 1, 1, tzinfo=JST)
TRAIN_DAYS, TEST_DAYS = 330, 120
EVENT_P = {h: 0.6 if 10 <= h <= 14 else 0.25 if h in (8, 9, 15, 16) else 0.0 for h in range(24)}
"""True probability that a slot curtails, by JST hour (independent from day to day)."""
AMOUNT_MW = (200.0, 2000.0)
"""Curtailed amount given an event: uniform between these, MW."""
CARBON_SD = 30.0
"""Carbon noise around the daily profile, gCO2/kWh (normal, independent)."""
TOLERANCE = 0.05
"""Allowed miss of a coverage or frequency."""


def carbon_profile(hours: np.ndarray) -> np.ndarray:
    """The mean carbon intensity by JST hour, gCO2/kWh."""
    return 60.0 * np.cos(2 * np.pi * (hours - 13) / 24)


def synthetic_history(days: int, seed: int, level: np.ndarray | None = None,
                      event_scale: np.ndarray | float = 1.0) -> pd.DataFrame:
    """A tidy hourly Kyushu history with known curtailment and carbon distributions (the
    event probabilities of `EVENT_P` times `event_scale`, per slot)."""
    rng = np.random.default_rng(seed)
    jst = pd.date_range(START, periods=days * 24, freq="h")
    hours = jst.hour.to_numpy()
    event = rng.random(len(jst)) < np.vectorize(EVENT_P.get)(hours) * event_scale
    amount = rng.uniform(*AMOUNT_MW, len(jst))
    base = np.full(len(jst), 420.0) if level is None else level
    return pd.DataFrame({
        "time_utc": jst.tz_convert("UTC"), "time_jst": jst, "slot_minutes": 60,
        "area": "kyushu", "demand_mw": 9000.0 + rng.normal(0, 200, len(jst)),
        "solar_mw": 0.0, "solar_curtailed_mw": np.where(event, amount, 0.0),
        "wind_curtailed_mw": 0.0,
        "carbon_gco2_per_kwh": base + carbon_profile(hours) + rng.normal(0, CARBON_SD, len(jst)),
    })


def split(history: pd.DataFrame) -> tuple[pd.DataFrame, pd.Timestamp]:
    cut = START + pd.Timedelta(days=TRAIN_DAYS)
    return history[history["time_jst"] < cut], cut


@pytest.fixture(scope="module")
def history() -> pd.DataFrame:
    return synthetic_history(TRAIN_DAYS + TEST_DAYS, seed=11)


@pytest.fixture(scope="module")
def curtailment(history):
    """(held-out actual MW, quantile predictions, event probabilities)."""
    train, cut = split(history)
    model = fit_quantile_model(train, "curtailment_mw", DAY_AHEAD)
    pred = predict(model, history)
    pred = pred[pred.index >= cut]
    prob = predict_event_probability(model, history).reindex(pred.index)
    actual = history.set_index(pd.DatetimeIndex(history["time_utc"]).as_unit("ns"))
    return actual["solar_curtailed_mw"].reindex(pred.index), pred, prob


def test_event_probabilities_match_the_true_frequencies_hour_by_hour(curtailment):
    actual, _, prob = curtailment
    hours = prob.index.tz_convert(JST).hour
    true_p = pd.Series(np.vectorize(EVENT_P.get)(hours), index=prob.index)
    mean_by_p = prob.groupby(true_p.to_numpy()).mean()
    for p, mean in mean_by_p.items():
        assert mean == pytest.approx(p, abs=TOLERANCE)
    observed = actual > 1.0
    # within a whisker of the Brier score of the true probabilities (the best possible)
    assert brier_score(observed, prob) < brier_score(observed, true_p) + 0.01
    assert brier_score(observed, prob) < brier_score(observed, np.full(len(prob),
                                                                        observed.mean()))


def test_event_probability_is_calibrated_on_months_of_the_history_by_default(history):
    train, _ = split(history)
    model = fit_quantile_model(train, "curtailment_mw", DAY_AHEAD)
    assert model.hurdle is not None and model.hurdle.calibration is not None
    slope, _ = model.hurdle.calibration
    assert 0.5 < slope < 1.5  # the classifier is well calibrated here: a mild map
    plain = fit_quantile_model(train, "curtailment_mw", DAY_AHEAD, calibrate=False)
    assert plain.hurdle is not None and plain.hurdle.calibration is None


@pytest.mark.parametrize("q", [0.1, 0.5, 0.9])
def test_curtailment_quantiles_cover_their_level_on_daytime_slots(curtailment, q):
    actual, pred, _ = curtailment
    day = pred.index.tz_convert(JST).hour.isin(range(8, 17))
    a, p = actual[day].to_numpy(), pred.loc[day, f"p{round(q * 100)}"].to_numpy()
    # A mixture with an atom at 0: P(Y < q̂) ≤ q ≤ P(Y ≤ q̂) for a calibrated q̂.
    assert np.mean(a < p) <= q + TOLERANCE
    assert np.mean(a <= p) >= q - TOLERANCE


def test_curtailment_quantiles_reach_zero_where_no_event_is_possible(curtailment):
    _, pred, prob = curtailment
    night = pred.index.tz_convert(JST).hour.isin([0, 1, 2, 3, 4, 20, 21, 22, 23])
    assert (pred.loc[night].to_numpy() == 0.0).all()
    assert prob[night].max() < 0.05
    busy = pred.index.tz_convert(JST).hour.isin(range(10, 15))
    assert (pred.loc[busy, "p10"] == 0.0).mean() > 0.9  # 40 % chance of no curtailment
    assert pred.loc[busy, "p90"].median() > 1000.0


@pytest.mark.parametrize("q", [0.1, 0.5, 0.9])
def test_carbon_quantiles_cover_their_level(history, q):
    train, cut = split(history)
    model = fit_quantile_model(train, "carbon_gco2_per_kwh", DAY_AHEAD)
    pred = predict(model, history)
    pred = pred[pred.index >= cut]
    actual = history.set_index(pd.DatetimeIndex(history["time_utc"]).as_unit("ns"))[
        "carbon_gco2_per_kwh"].reindex(pred.index)
    assert np.mean(actual.to_numpy() <= pred[f"p{round(q * 100)}"].to_numpy()) == \
        pytest.approx(q, abs=TOLERANCE)


def test_carbon_model_follows_a_level_shift_it_never_saw_in_training():
    days = TRAIN_DAYS + TEST_DAYS
    level = np.where(np.arange(days * 24) < TRAIN_DAYS * 24, 450.0, 330.0)
    shifted = synthetic_history(days, seed=5, level=level)
    train, cut = split(shifted)
    model = fit_quantile_model(train, "carbon_gco2_per_kwh", DAY_AHEAD)
    pred = predict(model, shifted)
    settled = pred[pred.index >= cut + pd.Timedelta(days=9)]  # the reference has moved
    truth = 330.0 + carbon_profile(settled.index.tz_convert(JST).hour.to_numpy())
    assert abs(float(np.mean(settled["p50"].to_numpy() - truth))) < 10.0
    assert float(np.mean(np.abs(settled["p50"].to_numpy() - truth))) < 20.0


@pytest.mark.parametrize("prior_days", [RECENT_PRIOR_DAYS, 14.0])
def test_event_probability_follows_a_change_of_frequency_it_never_saw_in_training(
        prior_days: float) -> None:
    """Training: the midday slots curtail with a quarter of `EVENT_P` (0.15); test: all of
    it (0.6), as Chugoku's curtailment rose in 2023 beyond anything its history held.
    Re-levelled at each issue time to the outcomes of the last 14 days (one log-odds shift
    for all slots, against `prior_days` days of the model's own probabilities), the
    forecast probabilities settle 14 / (14 + `prior_days`) of the way to the new mean
    frequency (4 events a day) after two weeks; the fit alone keeps saying a quarter of it."""
    days = TRAIN_DAYS + TEST_DAYS
    scale = np.where(np.arange(days * 24) < TRAIN_DAYS * 24, 0.25, 1.0)
    changed = synthetic_history(days, seed=7, event_scale=scale)
    train, cut = split(changed)
    model = fit_quantile_model(train, "curtailment_mw", DAY_AHEAD)
    prob = predict_event_probability(replace(model, recent_prior_days=prior_days), changed)
    before = prob[(prob.index < cut) & (prob.index >= cut - pd.Timedelta(days=60))]
    after = prob[prob.index >= cut + pd.Timedelta(days=15)]
    daily = sum(EVENT_P.values()) / 24  # the mean event frequency of the test period
    way = RECENT_DAYS / (RECENT_DAYS + prior_days)
    assert float(before.mean()) == pytest.approx(0.25 * daily, abs=0.015)
    assert float(after.mean()) == pytest.approx(0.25 * daily + way * 0.75 * daily, abs=0.02)
    midday = after.index.tz_convert(JST).hour.isin(range(10, 15))
    assert float(after[midday].mean()) > 0.3

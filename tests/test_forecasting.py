"""Forecasting curtailment and carbon: metrics, baselines, issue rules and the quantile model."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pytest

from forecasts.models import (
    DAY_AHEAD,
    INTRADAY,
    ModelConfig,
    add_targets,
    baseline_forecast,
    fit_quantile_model,
    mae,
    pinball_loss,
    predict,
    quantile_scores,
    residual_quantiles,
    to_forecast,
)
from forecasts.models.features import build_features, regular_frame
from forecasts.synthetic.grid import synthetic_area
from inputs.errors import InputError

JST = timezone(timedelta(hours=9))
SPLIT = pd.Timestamp("2023-01-01", tz=JST)
APRIL = (pd.Timestamp("2023-04-01", tz=JST), pd.Timestamp("2023-05-01", tz=JST))
FAST = ModelConfig(max_iter=100, learning_rate=0.1)


@pytest.fixture(scope="module")
def synthetic_history() -> pd.DataFrame:
    """Synthetic Kyushu, hourly, 2022-01-01 … 2023-04-30 JST."""
    return synthetic_area("kyushu", datetime(2022, 1, 1, tzinfo=JST), days=365 + 120,
                          slot_minutes=60, seed=1)


@pytest.fixture(scope="module")
def curtailment_model(synthetic_history):
    train = synthetic_history[synthetic_history["time_utc"] < SPLIT]
    return fit_quantile_model(train, "curtailment_mw", DAY_AHEAD, config=FAST)


@pytest.fixture(scope="module")
def april(synthetic_history, curtailment_model):
    """Rolling day-ahead predictions and actual curtailment for April 2023."""
    pred = predict(curtailment_model, synthetic_history)
    pred = pred[(pred.index >= APRIL[0]) & (pred.index < APRIL[1])]
    actual = add_targets(synthetic_history).set_index("time_utc")["curtailment_mw"]
    return pred, actual.reindex(pred.index)


def test_mae_and_pinball_match_hand_computed_values():
    actual, pred = [0.0, 10.0, 20.0], [5.0, 5.0, 5.0]
    assert mae(actual, pred) == pytest.approx(25 / 3)
    # a − p = −5, 5, 15 → q=0.9: 0.5 + 4.5 + 13.5; q=0.1: 4.5 + 0.5 + 1.5
    assert pinball_loss(actual, pred, 0.9) == pytest.approx(18.5 / 3)
    assert pinball_loss(actual, pred, 0.1) == pytest.approx(6.5 / 3)
    assert pinball_loss(actual, pred, 0.5) == pytest.approx(mae(actual, pred) / 2)


def test_metrics_skip_missing_slots_and_reject_bad_input():
    assert mae([1.0, np.nan, 3.0], [2.0, 5.0, np.nan]) == pytest.approx(1.0)
    with pytest.raises(InputError):
        pinball_loss([1.0], [1.0], 1.5)
    with pytest.raises(InputError):
        mae([1.0, 2.0], [1.0])
    scores = quantile_scores([0.0, 10.0], pd.DataFrame({"p10": [0.0, 0.0], "p90": [10.0, 10.0]}))
    assert scores["pinball_p10"] == pytest.approx(0.5)
    assert scores["pinball_p90"] == pytest.approx(0.5)
    assert scores["pinball_mean"] == pytest.approx(0.5)


@pytest.mark.parametrize("q", [0.1, 0.5, 0.9])
def test_pinball_loss_of_the_true_quantile_beats_a_shifted_one(q):
    sample = np.random.default_rng(0).exponential(1.0, 20_000)
    true_q = -np.log(1.0 - q)
    best = pinball_loss(sample, np.full(sample.size, true_q), q)
    for shift in (-0.2, 0.2):
        assert best < pinball_loss(sample, np.full(sample.size, true_q + shift), q)


def test_day_ahead_seasonal_naive_copies_the_latest_day_observed_at_10_jst():
    start = datetime(2023, 6, 1, tzinfo=JST)
    hist = synthetic_area("chugoku", start, days=10, slot_minutes=60, seed=0)
    jst = pd.DatetimeIndex(hist["time_jst"])
    hist["solar_curtailed_mw"] = (jst.day * 100 + jst.hour).to_numpy(dtype=float)
    hist["wind_curtailed_mw"] = 0.0
    naive = baseline_forecast(hist, "curtailment_mw", "seasonal_naive_day", DAY_AHEAD)
    day5 = naive[naive.index.tz_convert(JST).day == 5]
    # 00:00-09:00 were seen on day 4 by 10:00 on day 4; later hours only on day 3.
    assert day5.iloc[:10].tolist() == [400.0 + h for h in range(10)]
    assert day5.iloc[10:].tolist() == [300.0 + h for h in range(10, 24)]
    persistence = baseline_forecast(hist, "curtailment_mw", "persistence", DAY_AHEAD)
    assert (persistence[persistence.index.tz_convert(JST).day == 5] == 409.0).all()


def test_features_ignore_everything_observed_after_the_issue_time(synthetic_history):
    frame = regular_frame(add_targets(synthetic_history.iloc[: 40 * 24]))
    issue = pd.Timestamp("2022-01-20 10:00", tz=JST)
    spoiled = frame.copy()
    after = spoiled.index >= issue
    spoiled.loc[after, ["curtailment_mw", "demand_mw", "solar_mw", "carbon_gco2_per_kwh"]] = 9e9
    day = (frame.index >= pd.Timestamp("2022-01-21", tz=JST)) & (
        frame.index < pd.Timestamp("2022-01-22", tz=JST))
    for rule, target in ((DAY_AHEAD, "curtailment_mw"), (DAY_AHEAD, "carbon_gco2_per_kwh")):
        clean = build_features(frame, target, rule)[day]
        dirty = build_features(spoiled, target, rule)[day]
        pd.testing.assert_frame_equal(clean, dirty)


def test_intraday_forecasts_cover_only_slots_after_the_issue_hour(synthetic_history):
    hist = synthetic_history.iloc[: 30 * 24]
    naive = baseline_forecast(hist, "curtailment_mw", "seasonal_naive_day", INTRADAY)
    hours = set(naive.index.tz_convert(JST).hour)
    assert hours == set(range(6, 24))


def test_model_trained_on_a_synthetic_year_beats_persistence_on_a_held_out_month(
        synthetic_history, april):
    pred, actual = april
    train = synthetic_history[synthetic_history["time_utc"] < SPLIT]
    persist = baseline_forecast(synthetic_history, "curtailment_mw", "persistence", DAY_AHEAD)
    train_actual = add_targets(train).set_index("time_utc")["curtailment_mw"]
    persist_q = residual_quantiles(persist.reindex(train_actual.index), train_actual,
                                   persist.reindex(pred.index))
    assert mae(actual, pred["p50"]) < mae(actual, persist.reindex(pred.index))
    model_pinball = quantile_scores(actual, pred)["pinball_mean"]
    assert model_pinball < quantile_scores(actual, persist_q)["pinball_mean"]
    zero = pd.DataFrame(0.0, index=pred.index, columns=pred.columns)
    assert model_pinball < quantile_scores(actual, zero)["pinball_mean"]


def test_forecasts_never_predict_negative_curtailment_and_quantiles_are_ordered(april):
    pred, _ = april
    assert list(pred.columns) == ["p10", "p50", "p90"]
    assert (pred.to_numpy() >= 0).all()
    assert (pred["p10"] <= pred["p50"]).all() and (pred["p50"] <= pred["p90"]).all()
    night = pred.index.tz_convert(JST).hour.isin([0, 1, 2, 3, 22, 23])
    assert pred.loc[night, "p90"].max() < 50.0  # no solar, no surplus
    assert pred.loc[~night, "p90"].max() > 1_000.0  # it does expect spring curtailment


def test_one_issue_time_gives_the_same_day_as_the_rolling_forecast(
        synthetic_history, curtailment_model):
    issued = datetime(2023, 4, 10, 10, tzinfo=JST)
    single = predict(curtailment_model, synthetic_history, issued_at=issued)
    assert single.index[0] == pd.Timestamp("2023-04-11", tz=JST)
    assert len(single) == 24
    rolling = predict(curtailment_model, synthetic_history).reindex(single.index)
    np.testing.assert_allclose(single.to_numpy(), rolling.to_numpy())
    with pytest.raises(InputError):
        predict(curtailment_model, synthetic_history, issued_at=datetime(2023, 4, 10, 9,
                                                                          tzinfo=JST))


def test_carbon_model_and_forecast_conversion(synthetic_history, april):
    train = synthetic_history[synthetic_history["time_utc"] < SPLIT]
    carbon = fit_quantile_model(train, "carbon_gco2_per_kwh", DAY_AHEAD, config=FAST)
    curt_pred, _ = april
    carbon_pred = predict(carbon, synthetic_history).reindex(curt_pred.index)
    assert (carbon_pred["p10"] <= carbon_pred["p90"]).all()
    assert 100 < carbon_pred["p50"].mean() < 600
    fc = to_forecast("kyushu", curt_pred, carbon_pred, slot_minutes=60)
    assert fc.source == "quantile-model"
    np.testing.assert_allclose(fc.curtailment_mw, curt_pred["p50"])
    np.testing.assert_allclose(fc.quantiles["carbon_gco2_per_kwh_p90"], carbon_pred["p90"])
    assert set(fc.quantiles) >= {"curtailment_mw_p10", "curtailment_mw_p90"}


def test_unknown_target_is_an_input_error(synthetic_history):
    with pytest.raises(InputError) as err:
        fit_quantile_model(synthetic_history.iloc[:500], "price_jpy_per_kwh")
    assert err.value.field == "target"

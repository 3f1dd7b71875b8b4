"""The models train and predict on the real Kyushu TSO files (shared data; skipped where
absent): day-ahead forecasts of April 2023 from a fit on everything before their issue."""

from __future__ import annotations

from datetime import timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forecasts.models import DAY_AHEAD, add_targets, baseline_forecast, fit_quantile_model, mae
from forecasts.models.baselines import climatology_forecast, fit_climatology
from forecasts.models.metrics import brier_score
from forecasts.models.quantile_model import predict, predict_event_probability
from forecasts.sources.jp_tso.parse import parse_area_files

JST = timezone(timedelta(hours=9))
APRIL = (pd.Timestamp(2023, 4, 1, tzinfo=JST), pd.Timestamp(2023, 5, 1, tzinfo=JST))
ISSUED = APRIL[0] - pd.Timedelta(hours=14)  # 10:00 JST the day before

pytestmark = pytest.mark.shared_data


@pytest.fixture(scope="module")
def kyushu(shared_data: Path) -> pd.DataFrame:
    files = sorted((shared_data / "grid/jp_area_supply_demand/kyushu").glob("*.csv"))
    if not files:
        pytest.skip("no Kyushu supply–demand files in the shared data")
    return add_targets(parse_area_files(files, area="kyushu"))


@pytest.fixture(scope="module")
def before_issue(kyushu) -> pd.DataFrame:
    return kyushu[pd.DatetimeIndex(kyushu["time_utc"]) < ISSUED]


def april(frame: pd.DataFrame | pd.Series) -> pd.DataFrame | pd.Series:
    idx = pd.DatetimeIndex(frame.index)
    return frame[(idx >= APRIL[0]) & (idx < APRIL[1])]


def actual(kyushu: pd.DataFrame, target: str, index: pd.Index) -> pd.Series:
    series = kyushu.set_index(pd.DatetimeIndex(kyushu["time_utc"]).as_unit("ns"))[target]
    return series.reindex(index)


def test_carbon_model_trained_on_the_real_history_beats_seasonal_naive_in_april_2023(
        kyushu, before_issue):
    model = fit_quantile_model(before_issue, "carbon_gco2_per_kwh", DAY_AHEAD)
    pred = april(predict(model, kyushu))
    assert len(pred) == 30 * 24
    assert (pred["p10"] <= pred["p50"]).all() and (pred["p50"] <= pred["p90"]).all()
    truth = actual(kyushu, "carbon_gco2_per_kwh", pred.index)
    naive = baseline_forecast(kyushu, "carbon_gco2_per_kwh", "seasonal_naive_day")
    assert mae(truth, pred["p50"]) < mae(truth, naive.reindex(pred.index))
    one_day = predict(model, kyushu, issued_at=ISSUED.to_pydatetime())
    np.testing.assert_allclose(one_day.to_numpy(), pred.iloc[:24].to_numpy())


def test_curtailment_model_on_the_real_history_gives_useful_event_probabilities(
        kyushu, before_issue):
    model = fit_quantile_model(before_issue, "curtailment_mw", DAY_AHEAD)
    prob = april(predict_event_probability(model, kyushu))
    pred = april(predict(model, kyushu))
    assert prob.between(0.0, 1.0).all() and (pred.to_numpy() >= 0.0).all()
    observed = actual(kyushu, "curtailment_mw", prob.index) > 1.0
    clim = climatology_forecast(fit_climatology(before_issue, "curtailment_mw"),
                                pd.DatetimeIndex(prob.index))
    assert brier_score(observed, prob) < brier_score(observed, clim["p_event"])
    night = prob.index.tz_convert(JST).hour.isin([0, 1, 2, 3, 4, 21, 22, 23])
    assert prob[night].max() < 0.05 and prob[~night].max() > 0.5

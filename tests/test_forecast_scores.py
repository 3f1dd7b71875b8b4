"""Hand-checked pieces of the forecast models: event scores, the hurdle mixture, the event
threshold, climatology and the Japanese calendar."""

from __future__ import annotations

from datetime import date, timedelta, timezone

import numpy as np
import pandas as pd
import pytest

from forecasts.models.backtest import blocks, choose_threshold
from forecasts.models.baselines import climatology_forecast, fit_climatology
from forecasts.models.calendar import is_long_break, is_off_day, national_holidays
from forecasts.models.hurdle import mixture_quantile
from forecasts.models.metrics import (
    brier_score,
    energy_weighted_mae,
    event_scores,
    reliability,
)
from inputs.errors import InputError

JST = timezone(timedelta(hours=9))


def test_event_scores_count_hits_misses_and_false_alarms_by_hand():
    observed = [True, True, True, True, False, False, False, False, False, False]
    forecast = [True, True, True, False, True, False, False, False, False, False]
    s = event_scores(observed, forecast)
    assert s["hit_rate"] == pytest.approx(3 / 4)
    assert s["false_alarm_ratio"] == pytest.approx(1 / 4)  # 1 of 4 warnings wrong
    assert s["false_alarm_rate"] == pytest.approx(1 / 6)  # 1 of 6 quiet slots warned
    assert np.isnan(event_scores([False, True], [False, False])["false_alarm_ratio"])


def test_brier_score_energy_weighted_mae_and_reliability_by_hand():
    assert brier_score([1, 0, 1, 0], [1.0, 0.0, 0.5, 0.5]) == pytest.approx(0.125)
    with pytest.raises(InputError):
        brier_score([1], [1.5])
    # weights 100 and 300: (100·|100−0| + 300·|300−200|) / 400
    assert energy_weighted_mae([0.0, 100.0, 300.0], [50.0, 0.0, 200.0]) == pytest.approx(100.0)
    assert np.isnan(energy_weighted_mae([0.0, 0.0], [1.0, 0.0]))
    table = reliability([0, 1, 1, 1], [0.1, 0.1, 0.9, 0.95], bins=2)
    assert table["observed"].tolist() == [0.5, 1.0]
    assert table["count"].tolist() == [2, 2]


def test_mixture_quantile_is_zero_below_the_no_event_mass_and_interpolates_above():
    levels = np.array([0.25, 0.75])
    cond = np.array([[100.0, 300.0]] * 3)
    p_event = np.array([0.5, 0.5, 0.5])
    assert mixture_quantile(0.4, p_event, levels, cond).tolist() == [0.0] * 3
    # q = 0.75 → conditional level (0.75 − 0.5) / 0.5 = 0.5, halfway between 100 and 300
    assert mixture_quantile(0.75, p_event, levels, cond) == pytest.approx([200.0] * 3)
    # q = 0.95 → level 0.9, beyond the last level: flat
    assert mixture_quantile(0.95, p_event, levels, cond) == pytest.approx([300.0] * 3)
    assert mixture_quantile(0.9, np.array([0.05, 0.0, 1.0]), levels, cond) == pytest.approx(
        [0.0, 0.0, 300.0])


def test_threshold_is_the_f1_best_one_and_the_default_without_enough_events():
    rng = np.random.default_rng(0)
    p = pd.Series(rng.random(2000))
    event = p >= 0.6  # perfectly separable at 0.6
    assert choose_threshold(p, event) == pytest.approx(0.6)
    assert choose_threshold(p, p >= 0.999, default=0.42) == 0.42


def test_blocks_cut_the_period_at_month_starts_in_jst():
    edges = blocks(pd.Timestamp(2023, 1, 15, tzinfo=JST), pd.Timestamp(2023, 3, 10, tzinfo=JST))
    assert [e.strftime("%m-%d") for e in edges] == ["01-15", "02-01", "03-01", "03-10"]
    with pytest.raises(InputError):
        blocks(pd.Timestamp(2023, 2, 1, tzinfo=JST), pd.Timestamp(2023, 1, 1, tzinfo=JST))


def test_climatology_is_the_month_and_hour_statistics_with_an_hourly_fallback():
    jst = pd.date_range("2022-04-01", periods=4 * 24, freq="h", tz="Asia/Tokyo")
    noon = np.asarray(jst.hour == 12)
    curtailed = np.zeros(len(jst))
    curtailed[noon] = [0.0, 10.0, 20.0, 30.0]
    tidy = pd.DataFrame({"time_utc": jst.tz_convert("UTC"), "time_jst": jst,
                         "slot_minutes": 60, "area": "kyushu", "solar_curtailed_mw": curtailed,
                         "wind_curtailed_mw": 0.0, "carbon_gco2_per_kwh": 400.0})
    clim = fit_climatology(tidy, "curtailment_mw")
    when = pd.DatetimeIndex([pd.Timestamp(2023, 4, 5, 12, tzinfo=JST),
                             pd.Timestamp(2023, 7, 5, 12, tzinfo=JST),  # no July: by hour
                             pd.Timestamp(2023, 4, 5, 3, tzinfo=JST)])
    out = climatology_forecast(clim, when)
    assert out["mean"].tolist() == pytest.approx([15.0, 15.0, 0.0])
    assert out["p_event"].tolist() == pytest.approx([0.75, 0.75, 0.0])
    assert out["p50"].tolist() == pytest.approx([15.0, 15.0, 0.0])


def test_national_holidays_follow_the_law_with_substitute_and_citizens_holidays():
    assert len(national_holidays(2023)) == 17
    assert date(2023, 1, 2) in national_holidays(2023)  # New Year's Day on a Sunday
    assert date(2024, 5, 6) in national_holidays(2024)  # Children's Day on a Sunday
    assert date(2026, 9, 22) in national_holidays(2026)  # between Aged Day and equinox
    assert date(2023, 3, 21) in national_holidays(2023)  # vernal equinox
    assert date(2021, 7, 23) in national_holidays(2021)  # Olympic Sports Day
    assert date(2021, 10, 11) not in national_holidays(2021)


def test_off_days_and_long_breaks_cover_golden_week_obon_and_new_year():
    days = pd.DatetimeIndex([pd.Timestamp(d, tz="Asia/Tokyo") for d in (
        "2023-05-03", "2023-05-02", "2023-08-14", "2023-01-03", "2023-12-29", "2023-06-14",
        "2023-06-17")])
    assert is_off_day(days).tolist() == [True, False, True, True, True, False, True]
    assert is_long_break(days).tolist() == [True, True, True, True, True, False, False]

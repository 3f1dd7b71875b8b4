"""The synthetic area grid: physics, balance, determinism, and a check against real files."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pytest

from forecasts.sources.jp_tso.parse import TIDY_COLUMNS, parse_area_files
from forecasts.synthetic.areas import area_params
from forecasts.synthetic.clearsky import clearsky_irradiance
from forecasts.synthetic.grid import synthetic_area, synthetic_forecast
from inputs.errors import InputError

JST = timezone(timedelta(hours=9))
SPRING = datetime(2023, 3, 1, tzinfo=JST)
SUPPLY = ["nuclear_mw", "thermal_mw", "hydro_mw", "geothermal_mw", "biomass_mw", "solar_mw",
          "wind_mw", "pumped_storage_mw", "battery_mw", "interconnection_mw"]


@pytest.fixture(scope="module")
def kyushu_spring() -> pd.DataFrame:
    return synthetic_area("kyushu", SPRING, days=92, slot_minutes=60, seed=3)


@pytest.fixture(scope="module")
def tokyo_spring() -> pd.DataFrame:
    return synthetic_area("tokyo", SPRING, days=92, slot_minutes=60, seed=3)


def curtailed_mwh(frame: pd.DataFrame) -> float:
    slot_h = frame["slot_minutes"].iloc[0] / 60
    return float((frame["solar_curtailed_mw"] + frame["wind_curtailed_mw"]).sum() * slot_h)


def test_synthetic_frame_has_the_tidy_columns_and_utc_slot_starts(kyushu_spring):
    assert list(kyushu_spring.columns) == [*TIDY_COLUMNS, "carbon_gco2_per_kwh"]
    times = pd.DatetimeIndex(kyushu_spring["time_utc"])
    assert str(times.tz) == "UTC"
    assert times[0] == pd.Timestamp("2023-02-28 15:00", tz="UTC")
    assert len(kyushu_spring) == 92 * 24
    assert (kyushu_spring["area"] == "kyushu").all()


def test_same_seed_gives_the_same_frame_and_another_seed_a_different_one():
    a = synthetic_area("chugoku", SPRING, days=20, seed=7)
    b = synthetic_area("chugoku", SPRING, days=20, seed=7)
    c = synthetic_area("chugoku", SPRING, days=20, seed=8)
    pd.testing.assert_frame_equal(a, b)
    assert not np.allclose(a["solar_mw"], c["solar_mw"])


def test_synthetic_kyushu_curtails_far_more_in_spring_than_tokyo(kyushu_spring, tokyo_spring):
    kyushu, tokyo = curtailed_mwh(kyushu_spring), curtailed_mwh(tokyo_spring)
    assert kyushu > 100_000  # Kyushu curtailed ~1 TWh in Mar-May 2023
    assert kyushu > 20 * max(tokyo, 1.0)


def test_curtailment_happens_around_solar_noon_and_never_at_night(kyushu_spring):
    times = pd.DatetimeIndex(kyushu_spring["time_utc"])
    ghi = clearsky_irradiance("kyushu", times, 60)["ghi_w_per_m2"].to_numpy()
    cut = (kyushu_spring["solar_curtailed_mw"] + kyushu_spring["wind_curtailed_mw"]).to_numpy()
    assert (cut[ghi == 0] == 0).all()
    hour = times.tz_convert("Asia/Tokyo").hour.to_numpy() + 0.5  # slot middle
    assert cut.sum() > 0
    assert set(hour[cut > 0]) <= set(np.arange(7.5, 18.0))
    weighted_hour = float((hour * cut).sum() / cut.sum())
    assert 11.5 < weighted_hour < 13.5  # solar noon in Kyushu ≈ 12:20 JST


def test_energy_balance_holds_in_every_slot(kyushu_spring, tokyo_spring):
    for frame in (kyushu_spring, tokyo_spring):
        supply = frame[SUPPLY].sum(axis=1)
        np.testing.assert_allclose(supply, frame["demand_mw"], atol=1e-6)
        assert (frame["thermal_mw"] >= 0).all()
        parts = frame[["lng_mw", "coal_mw", "oil_mw", "other_thermal_mw"]].sum(axis=1)
        np.testing.assert_allclose(parts, frame["thermal_mw"], atol=1e-6)
        for col in ("solar_mw", "solar_curtailed_mw", "wind_mw", "wind_curtailed_mw"):
            assert (frame[col] >= -1e-9).all(), col


def test_wind_is_curtailed_only_once_solar_is_fully_curtailed():
    windy = replace(area_params("kyushu"), pv_capacity_mw=3_000, wind_capacity_mw=6_000)
    frame = synthetic_area("kyushu", SPRING, days=60, slot_minutes=60, seed=1, params=windy)
    wind_cut = frame["wind_curtailed_mw"] > 0
    assert wind_cut.sum() > 10
    assert (frame.loc[wind_cut, "solar_mw"] < 1e-6).all()
    np.testing.assert_allclose(frame[SUPPLY].sum(axis=1), frame["demand_mw"], atol=1e-6)


def test_synthetic_year_meets_published_annual_demand():
    year = synthetic_area("kyushu", datetime(2023, 1, 1, tzinfo=JST), days=365, seed=0)
    twh = year["demand_mw"].mean() * 8760 / 1e6
    assert twh == pytest.approx(85.0, rel=0.03)
    assert 12_000 < year["demand_mw"].max() < 17_500


def test_synthetic_forecast_carries_carbon_and_curtailment(kyushu_spring):
    fc = synthetic_forecast("Kyushu", SPRING, days=92, slot_minutes=60, seed=3)
    assert fc.region == "kyushu" and fc.source == "synthetic" and fc.slot_minutes == 60
    expected = kyushu_spring["solar_curtailed_mw"] + kyushu_spring["wind_curtailed_mw"]
    np.testing.assert_allclose(fc.curtailment_mw, expected)
    assert (fc.carbon_gco2_per_kwh > 50).all() and (fc.carbon_gco2_per_kwh < 900).all()
    # Curtailed slots are cleaner than the spring average: extra solar displaces thermal.
    assert fc.carbon_gco2_per_kwh[expected > 0].mean() < fc.carbon_gco2_per_kwh.mean()


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"area": "atlantis", "start": SPRING}, "area"),
    ({"area": "kyushu", "start": datetime(2023, 3, 1)}, "start"),
    ({"area": "kyushu", "start": SPRING, "slot_minutes": 20}, "slot_minutes"),
    ({"area": "kyushu", "start": SPRING, "days": 0}, "days"),
])
def test_bad_arguments_raise_input_error_naming_the_field(kwargs, field):
    with pytest.raises(InputError) as err:
        synthetic_area(**kwargs)
    assert err.value.field == field


def test_synthetic_kyushu_spring_curtailment_is_the_order_of_the_real_2023_one(
        shared_data, kyushu_spring):
    files = sorted((shared_data / "grid/jp_area_supply_demand/kyushu").glob("*.csv"))
    real = parse_area_files(files, area="kyushu")
    jst = pd.DatetimeIndex(real["time_jst"])
    spring = real[(jst >= pd.Timestamp(SPRING)) & (jst < pd.Timestamp("2023-06-01", tz=JST))]
    real_mwh = curtailed_mwh(spring)
    assert real_mwh == pytest.approx(1_013_000, rel=0.01)  # Mar-May 2023 in the TSO file
    assert real_mwh / 3 < curtailed_mwh(kyushu_spring) < real_mwh * 1.5


def test_start_is_accepted_in_any_timezone():
    a = synthetic_area("tokyo", datetime(2023, 5, 1, tzinfo=JST), days=2)
    b = synthetic_area("tokyo", datetime(2023, 4, 30, 15, tzinfo=UTC), days=2)
    pd.testing.assert_frame_equal(a, b)

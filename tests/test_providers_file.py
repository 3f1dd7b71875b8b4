"""File provider: forecast.csv and Parquet with the same columns give the same forecast."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forecasts.csv_file import forecast_frame, write_forecast_csv
from forecasts.forecast import Forecast
from forecasts.providers import make_provider
from forecasts.providers.file import FileConfig, FileProvider, read_forecast_parquet
from inputs.errors import InputError


def two_regions() -> list[Forecast]:
    slots = pd.date_range("2026-04-01T15:00Z", periods=8, freq="30min")  # JST 00:00–04:00
    chugoku = Forecast("chugoku", slots, 30, np.linspace(520, 480, 8), np.zeros(8),
                       marginal_gco2_per_kwh=np.full(8, 690.0),
                       price_jpy_per_kwh=np.array([9.1, 9.0, 8.7, 8.5, 8.4, 8.4, 8.6, 9.2]),
                       quantiles={"carbon_gco2_per_kwh_p10": np.linspace(470, 430, 8),
                                  "carbon_gco2_per_kwh_p90": np.linspace(570, 530, 8)})
    kyushu = Forecast("kyushu", slots, 30, np.linspace(410, 300, 8),
                      np.array([0, 0, 0, 0, 120, 480, 900, 750.0]))
    return [chugoku, kyushu]


def test_csv_file_region_is_returned_with_its_optional_signals(tmp_path: Path) -> None:
    path = tmp_path / "forecast.csv"
    write_forecast_csv(two_regions(), path)
    fc = FileProvider(FileConfig(path)).fetch("chugoku")
    assert fc.slot_starts[0] == pd.Timestamp("2026-04-01T15:00Z")
    np.testing.assert_allclose(fc.carbon_gco2_per_kwh, np.linspace(520, 480, 8), rtol=1e-6)
    assert fc.price_jpy_per_kwh is not None and fc.price_jpy_per_kwh[3] == pytest.approx(8.5)
    assert set(fc.quantiles) == {"carbon_gco2_per_kwh_p10", "carbon_gco2_per_kwh_p90"}


def test_parquet_with_the_same_columns_reads_the_same_as_csv(tmp_path: Path) -> None:
    csv_path, pq_path = tmp_path / "forecast.csv", tmp_path / "forecast.parquet"
    write_forecast_csv(two_regions(), csv_path)
    forecast_frame(two_regions()).to_parquet(pq_path)
    from_csv = FileProvider(FileConfig(csv_path)).read()
    from_pq = FileProvider(FileConfig(pq_path)).read()
    assert sorted(from_pq) == ["chugoku", "kyushu"]
    for region, fc in from_csv.items():
        other = from_pq[region]
        assert (other.slot_starts == fc.slot_starts).all() and other.slot_minutes == 30
        np.testing.assert_allclose(other.carbon_gco2_per_kwh, fc.carbon_gco2_per_kwh, rtol=1e-5)
        np.testing.assert_allclose(other.curtailment_mw, fc.curtailment_mw, rtol=1e-5)
    assert from_pq["kyushu"].price_jpy_per_kwh is None


def test_parquet_times_as_iso_strings_with_offset_are_accepted(tmp_path: Path) -> None:
    df = forecast_frame(two_regions())
    df["time"] = df["time"].dt.tz_convert("Asia/Tokyo").map(lambda t: t.isoformat())
    df.to_parquet(tmp_path / "f.parquet")
    fc = read_forecast_parquet(tmp_path / "f.parquet")["kyushu"]
    assert fc.slot_starts[0] == pd.Timestamp("2026-04-01T15:00Z")
    assert fc.curtailment_mw[6] == 900.0


def test_window_clips_the_file_forecast(tmp_path: Path) -> None:
    write_forecast_csv(two_regions(), tmp_path / "f.csv")
    fc = make_provider("file", path=tmp_path / "f.csv").fetch(
        "kyushu", datetime(2026, 4, 1, 17, tzinfo=UTC), datetime(2026, 4, 1, 18, tzinfo=UTC))
    assert list(fc.curtailment_mw) == [120.0, 480.0]


def test_a_region_absent_from_the_file_is_an_input_error_listing_the_others(
        tmp_path: Path) -> None:
    write_forecast_csv(two_regions(), tmp_path / "f.csv")
    with pytest.raises(InputError, match=r"region='tokyo'.*chugoku, kyushu"):
        FileProvider(FileConfig(tmp_path / "f.csv")).fetch("tokyo")


def test_negative_carbon_in_parquet_names_the_row_and_field(tmp_path: Path) -> None:
    df = forecast_frame(two_regions())
    df.loc[3, "carbon_gco2_per_kwh"] = -5.0
    df.to_parquet(tmp_path / "f.parquet")
    with pytest.raises(InputError, match=r"row 3: carbon_gco2_per_kwh=-5.0: must be ≥ 0"):
        read_forecast_parquet(tmp_path / "f.parquet")


def test_naive_parquet_times_are_rejected(tmp_path: Path) -> None:
    df = forecast_frame(two_regions())
    df["time"] = df["time"].dt.tz_localize(None)
    df.to_parquet(tmp_path / "f.parquet")
    with pytest.raises(InputError, match=r"time=.*has no UTC offset"):
        read_forecast_parquet(tmp_path / "f.parquet")


def test_a_file_that_is_not_parquet_is_an_input_error(tmp_path: Path) -> None:
    (tmp_path / "f.parquet").write_text("region,time\n", encoding="utf-8")
    with pytest.raises(InputError, match="not a readable Parquet file"):
        read_forecast_parquet(tmp_path / "f.parquet")

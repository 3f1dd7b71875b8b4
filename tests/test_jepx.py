"""JEPX day-ahead spot summaries → tidy price table."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forecasts.sources.jepx.parse import (
    AREA_NAMES_JA,
    PRICE_COLUMNS,
    area_prices,
    parse_spot_files,
    parse_spot_summary,
)
from inputs.errors import InputError

HEADER = ("受渡日,時刻コード,売り入札量(kWh),買い入札量(kWh),約定総量(kWh),"
          "システムプライス(円/kWh),"
          + ",".join(f"エリアプライス{a}(円/kWh)" for a in AREA_NAMES_JA)
          + ",売りブロック入札総量(kWh),売りブロック約定総量(kWh),買いブロック入札総量(kWh),"
          "買いブロック約定総量(kWh)")


def spot_file(tmp_path: Path, rows: list[str], encoding: str = "cp932",
              header: str = HEADER) -> Path:
    path = tmp_path / "spot_summary_test.csv"
    path.write_bytes(("\r\n".join([header, *rows]) + "\r\n").encode(encoding))
    return path


def row(date: str, code: int | str, system: float | str = 10.0, tokyo: float | str = 12.0) -> str:
    areas = [str(tokyo) if a == "東京" else "11" for a in AREA_NAMES_JA]
    return ",".join([date, str(code), "1", "1", "1", str(system), *areas, "0", "0", "0", "0"])


@pytest.fixture(scope="module")
def jepx_dir(shared_data: Path) -> Path:
    return shared_data / "grid" / "jepx_spot"


@pytest.fixture(scope="module")
def fy2025(jepx_dir: Path) -> pd.DataFrame:
    return parse_spot_summary(jepx_dir / "fy2025_original" / "spot_summary_2025.csv")


@pytest.mark.shared_data
def test_fy2025_original_file_gives_every_half_hour_for_nine_areas(fy2025: pd.DataFrame) -> None:
    prices = fy2025
    assert tuple(prices.columns) == PRICE_COLUMNS
    assert len(prices) == 16752 * 9
    assert sorted(prices["area"].unique()) == sorted(AREA_NAMES_JA.values())
    times = pd.DatetimeIndex(prices["time_utc"].unique())
    assert len(times) == 16752
    assert (np.diff(times.to_numpy()) == np.timedelta64(30, "m")).all()
    # time code 1 of 2025/04/01 = 00:00 JST = 15:00 UTC the day before; code 48 = 23:30
    assert times[0] == pd.Timestamp("2025-03-31 15:00", tz="UTC")
    assert prices["time_jst"].iloc[-1] == pd.Timestamp("2026-03-15 23:30", tz="Asia/Tokyo")
    first = prices[prices["time_utc"] == times[0]].set_index("area")
    assert first.loc["tokyo", "price_jpy_per_kwh"] == 15.41
    assert first.loc["shikoku", "price_jpy_per_kwh"] == 7.81
    assert (first["system_price_jpy_per_kwh"] == 13.50).all()


@pytest.mark.shared_data
def test_resaved_calendar_file_drops_its_trailing_empty_rows(jepx_dir: Path) -> None:
    prices = parse_spot_summary(jepx_dir / "calendar_year_resaved" / "spot_summary_2022.csv")
    assert len(prices) == 17520 * 9  # 4,320 `,,,…` rows after the data are gone
    kyushu = area_prices(prices, "kyushu")
    assert kyushu.index[0] == pd.Timestamp("2022-01-01 00:00", tz="Asia/Tokyo")
    assert kyushu.iloc[0] == 13.25  # `2022/1/1` (not zero-padded) parsed as a date


@pytest.mark.shared_data
def test_two_calendar_years_join_into_one_gapless_series(jepx_dir: Path) -> None:
    folder = jepx_dir / "calendar_year_resaved"
    prices = parse_spot_files([folder / "spot_summary_2023.csv", folder / "spot_summary_2022.csv"])
    tokyo = area_prices(prices, "tokyo")
    assert len(tokyo) == 2 * 17520
    assert (np.diff(tokyo.index.to_numpy()) == np.timedelta64(30, "m")).all()


@pytest.mark.shared_data
def test_system_price_matches_the_national_jref_file(fy2025: pd.DataFrame,
                                                      shared_data: Path) -> None:
    """JREF's national file carries the JEPX system price; the two sources must agree."""
    system = fy2025.drop_duplicates("time_utc").set_index("time_jst")["system_price_jpy_per_kwh"]
    jref = pd.read_csv(shared_data / "grid" / "jp_national_jref" / "download.csv", header=1,
                       dtype=str)
    jst = pd.to_datetime(jref["日付"] + " " + jref["時刻"], format="%Y/%m/%d %H:%M")
    theirs = pd.Series(jref["全国"].astype(float).to_numpy(),
                       index=jst.dt.tz_localize("Asia/Tokyo"))
    both = pd.concat([system, theirs], axis=1, join="inner")
    assert len(both) == 16368
    assert np.abs(both.iloc[:, 0] - both.iloc[:, 1]).max() < 0.005


def test_utf8_file_parses_like_cp932(tmp_path: Path) -> None:
    rows = [row("2023/4/1", c, tokyo=c) for c in (1, 2)]
    cp932 = parse_spot_summary(spot_file(tmp_path, rows))
    utf8 = parse_spot_summary(spot_file(tmp_path, rows, encoding="utf-8"))
    pd.testing.assert_frame_equal(cp932, utf8)
    assert area_prices(cp932, "tokyo").tolist() == [1.0, 2.0]


@pytest.mark.parametrize(("bad_row", "field", "value"), [
    (row("2023/4/1", 49), "時刻コード", "49"),
    (row("2023/4/1", 0), "時刻コード", "0"),
    (row("2023/4/1", "1.5"), "時刻コード", "1.5"),
    (row("2023/13/1", 3), "受渡日", "2023/13/1"),
    (row("2023/4/1", 3, tokyo="－"), "エリアプライス(tokyo)", "－"),
    (row("2023/4/1", 3, system=""), "システムプライス", ""),
    (row("2023/4/1", 1), "slot", "2023/4/1 1"),
])
def test_bad_rows_name_their_line_field_and_value(tmp_path: Path, bad_row: str, field: str,
                                                  value: str) -> None:
    path = spot_file(tmp_path, [row("2023/4/1", 1), row("2023/4/1", 2), bad_row])
    with pytest.raises(InputError) as err:
        parse_spot_summary(path)
    assert err.value.source.endswith("line 4")
    assert err.value.field == field
    assert err.value.value == value


def test_a_file_that_is_not_a_spot_summary_is_rejected(tmp_path: Path) -> None:
    path = spot_file(tmp_path, ["2025/4/1,0:00,30000"], header="DATE,TIME,エリア需要")
    with pytest.raises(InputError, match="not a JEPX spot summary"):
        parse_spot_summary(path)


def test_an_unknown_area_label_is_rejected(tmp_path: Path) -> None:
    header = HEADER.replace("エリアプライス九州", "エリアプライス沖縄")
    with pytest.raises(InputError, match="unknown JEPX area"):
        parse_spot_summary(spot_file(tmp_path, [row("2023/4/1", 1)], header=header))


def test_missing_file_and_area_without_prices_are_input_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="file not found"):
        parse_spot_summary(tmp_path / "spot_summary_1999.csv")
    prices = parse_spot_summary(spot_file(tmp_path, [row("2023/4/1", 1)]))
    with pytest.raises(InputError, match="okinawa"):
        area_prices(prices, "okinawa")

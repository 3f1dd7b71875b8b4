"""`wattbit forecast signals` and `wattbit forecast show` on the real TSO and JEPX files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from forecasts.carbon.signals import read_tidy_csv, signals_from_tidy
from forecasts.csv_file import read_forecast_csv
from forecasts.forecast import Forecast
from forecasts.sources.jepx.parse import area_prices, parse_spot_summary
from forecasts.sources.jp_tso.parse import TIDY_COLUMNS
from inputs.errors import InputError
from scheduler.cli import app

runner = CliRunner()


def wattbit(*args: str | Path) -> tuple[int, str, str]:
    result = runner.invoke(app, ["forecast", *map(str, args)])
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def grid(shared_data: Path) -> Path:
    return shared_data / "grid"


@pytest.fixture(scope="module")
def chugoku_csv(grid: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("chugoku") / "forecast.csv"
    code, stdout, stderr = wattbit("signals", "--area", "chugoku", "--source", "jp-tso",
                                   "--file", grid / "jp_area_supply_demand/chugoku/eria_jyukyu.csv",
                                   "--out", out)
    assert code == 0, stderr
    assert "24120 slots of 60 min" in stdout
    return out


@pytest.mark.shared_data
def test_chugoku_signals_read_back_as_a_forecast(chugoku_csv: Path) -> None:
    fc = read_forecast_csv(chugoku_csv)["chugoku"]
    assert fc.slot_minutes == 60 and len(fc.slot_starts) == 24120
    assert fc.slot_starts[0] == pd.Timestamp("2021-04-01 00:00", tz="Asia/Tokyo")
    assert fc.marginal_gco2_per_kwh is not None and fc.price_jpy_per_kwh is None
    in_2023 = fc.slot_starts.tz_convert("Asia/Tokyo").year == 2023
    curtailed = fc.curtailment_mw[in_2023]
    # SOURCES.md: 297,658 MWh of solar in 335 h in 2023; wind adds 6,151 MWh (all in those h)
    assert (curtailed > 0).sum() == 335
    assert curtailed.sum() == pytest.approx(297658 + 6151)
    assert (fc.marginal_gco2_per_kwh[fc.curtailment_mw > 0] == 0).all()
    assert 450 < fc.carbon_gco2_per_kwh.mean() < 560


@pytest.mark.shared_data
def test_hourly_kyushu_gets_the_mean_of_the_two_half_hour_prices(grid: Path,
                                                                 tmp_path: Path) -> None:
    spot = grid / "jepx_spot/calendar_year_resaved"
    out = tmp_path / "kyushu.csv"
    code, _, stderr = wattbit(
        "signals", "--area", "kyushu",
        "--file", grid / "jp_area_supply_demand/kyushu/area_jyukyu_jisseki_2022_4Q.csv",
        "--prices", spot / "spot_summary_2022.csv", "--prices", spot / "spot_summary_2023.csv",
        "--out", out)
    assert code == 0, stderr
    fc = read_forecast_csv(out)["kyushu"]
    assert len(fc.slot_starts) == 2160
    half_hours = area_prices(parse_spot_summary(spot / "spot_summary_2023.csv"), "kyushu")
    hourly = half_hours.to_numpy().reshape(-1, 2).mean(axis=1)[:2160]
    assert fc.price_jpy_per_kwh == pytest.approx(hourly, abs=5e-3)
    # 2023/1/1 time codes 1 and 2 in the raw file: Kyushu 18 and 23.66 JPY/kWh
    assert fc.price_jpy_per_kwh[0] == pytest.approx((18.00 + 23.66) / 2)


@pytest.mark.shared_data
def test_half_hourly_tokyo_takes_its_area_price_slot_for_slot(grid: Path, tmp_path: Path) -> None:
    spot = grid / "jepx_spot/fy2025_original/spot_summary_2025.csv"
    out = tmp_path / "tokyo.csv"
    code, _, stderr = wattbit(
        "signals", "--area", "tokyo", "--file",
        grid / "jp_area_supply_demand/tokyo/eria_jukyu_202507_03.csv",
        "--prices", spot, "--out", out)
    assert code == 0, stderr
    fc = read_forecast_csv(out)["tokyo"]
    assert fc.slot_minutes == 30 and len(fc.slot_starts) == 31 * 48
    jepx = area_prices(parse_spot_summary(spot), "tokyo").reindex(fc.slot_starts)
    assert fc.price_jpy_per_kwh == pytest.approx(jepx.to_numpy(), abs=5e-3)


@pytest.mark.shared_data
def test_tidy_source_gives_the_same_forecast_as_the_tso_file(grid: Path, tmp_path: Path) -> None:
    raw = grid / "jp_area_supply_demand/kyushu/area_jyukyu_jisseki_2023_1Q.csv"
    tidy = tmp_path / "tidy.csv"
    assert wattbit("import", "jp-tso", raw, "--out", tidy)[0] == 0
    from_tso, from_tidy = tmp_path / "a.csv", tmp_path / "b.csv"
    assert wattbit("signals", "--area", "kyushu", "--file", raw, "--out", from_tso)[0] == 0
    code, _, stderr = wattbit("signals", "--area", "kyushu", "--source", "tidy",
                              "--file", tidy, "--out", from_tidy)
    assert code == 0, stderr
    assert from_tso.read_text() == from_tidy.read_text()


@pytest.mark.shared_data
def test_marginal_intensity_and_lifecycle_factors_are_options(grid: Path, tmp_path: Path) -> None:
    raw = grid / "jp_area_supply_demand/kyushu/area_jyukyu_jisseki_2023_1Q.csv"
    factors = tmp_path / "factors.yaml"
    factors.write_text("basis: lifecycle\n", encoding="utf-8")
    runs = {}
    for name, extra in (("avg", []), ("marg", ["--intensity", "marginal"]),
                        ("life", ["--factors", factors])):
        out = tmp_path / f"{name}.csv"
        code, _, stderr = wattbit("signals", "--area", "kyushu", "--file", raw, "--out", out,
                                  *extra)
        assert code == 0, stderr
        runs[name] = read_forecast_csv(out)["kyushu"]
    avg, marg, life = runs["avg"], runs["marg"], runs["life"]
    assert marg.carbon_gco2_per_kwh == pytest.approx(avg.marginal_gco2_per_kwh)
    assert set(np.unique(marg.carbon_gco2_per_kwh)) == {0.0, 370.0}  # curtailed or LNG
    assert (life.carbon_gco2_per_kwh > avg.carbon_gco2_per_kwh).all()


@pytest.mark.shared_data
def test_show_prints_a_summary_and_writes_the_plot(chugoku_csv: Path, tmp_path: Path) -> None:
    png = tmp_path / "signals.png"
    code, stdout, stderr = wattbit("show", chugoku_csv, "--region", "chugoku", "--plot", png)
    assert code == 0, stderr
    assert "chugoku" in stdout and "24120" in stdout
    assert "401" in stdout  # hours with curtailment over the whole file
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert png.stat().st_size > 20_000


@pytest.mark.shared_data
def test_prices_that_do_not_cover_the_grid_data_are_an_error(grid: Path, tmp_path: Path) -> None:
    code, stdout, stderr = wattbit(
        "signals", "--area", "chugoku",
        "--file", grid / "jp_area_supply_demand/chugoku/eria_jyukyu.csv",
        "--prices", grid / "jepx_spot/calendar_year_resaved/spot_summary_2022.csv",
        "--out", tmp_path / "x.csv")
    assert code == 2 and stdout == ""
    assert stderr.startswith("error: jepx prices (area chugoku): ")
    assert "2021-03-31T15:00:00+00:00" in stderr and "no price for this slot" in stderr
    assert not (tmp_path / "x.csv").exists()


@pytest.mark.parametrize("args", [
    ("signals", "--area", "tokyo", "--source", "watttime", "--file", "x.csv", "--out", "o.csv"),
    ("signals", "--area", "tokyo", "--source", "tidy", "--file", "missing.csv", "--out", "o.csv"),
    ("show", "missing.csv"),
])
def test_bad_input_exits_2_with_a_one_line_error(args: tuple[str, ...], tmp_path: Path) -> None:
    code, _, stderr = wattbit(*(str(tmp_path / a) if a.endswith(".csv") else a for a in args))
    assert code == 2
    assert stderr.startswith("error: ") and stderr.count("\n") == 1


def test_show_rejects_a_region_not_in_the_file(tmp_path: Path) -> None:
    path = tmp_path / "forecast.csv"
    path.write_text("region,time,carbon_gco2_per_kwh,curtailment_mw\n"
                    "tokyo,2025-01-01T00:00:00+00:00,400,0\n"
                    "tokyo,2025-01-01T00:30:00+00:00,380,10\n", encoding="utf-8")
    code, _, stderr = wattbit("show", path, "--region", "kyushu")
    assert code == 2 and "kyushu" in stderr and "tokyo" in stderr
    code, stdout, _ = wattbit("show", path)
    assert code == 0 and "390" in stdout and "0.5" in stdout  # mean carbon, curtailed hours


# --- signals_from_tidy on hand-made frames -----------------------------------------------

def _frame(minutes: list[int], area: str = "tokyo") -> pd.DataFrame:
    start = pd.Timestamp("2025-05-01 00:00", tz="UTC")
    times = start + pd.to_timedelta(minutes, unit="min")
    n = len(minutes)
    return pd.DataFrame({"time_utc": times, "slot_minutes": 30, "area": area,
                         "coal_mw": [100.0] * n, "solar_mw": [100.0] * n,
                         "solar_curtailed_mw": [np.nan, 5.0, 0.0][:n],
                         "wind_curtailed_mw": [1.0, np.nan, np.nan][:n]})


def test_signals_from_a_hand_made_frame() -> None:
    fc = signals_from_tidy(_frame([0, 30, 60]), "tokyo")
    assert isinstance(fc, Forecast) and fc.source == "jp-tso"
    assert fc.carbon_gco2_per_kwh == pytest.approx([380.0] * 3)
    assert fc.curtailment_mw.tolist() == [1.0, 5.0, 0.0]
    assert fc.marginal_gco2_per_kwh.tolist() == [0.0, 0.0, 760.0]


@pytest.mark.parametrize(("frame", "area", "problem"), [
    (_frame([0, 30, 90]), "tokyo", "gap or overlap"),
    (_frame([0, 30, 30]), "tokyo", "duplicate slot"),
    (_frame([0, 30, 60]), "kyushu", "no rows for this area"),
])
def test_signals_reject_gaps_duplicates_and_missing_areas(frame: pd.DataFrame, area: str,
                                                          problem: str) -> None:
    with pytest.raises(InputError, match=problem):
        signals_from_tidy(frame, area)


def test_a_slot_without_generation_data_is_an_error() -> None:
    frame = _frame([0, 30, 60])
    frame.loc[1, ["coal_mw", "solar_mw"]] = np.nan
    with pytest.raises(InputError, match="no generation data"):
        signals_from_tidy(frame, "tokyo")


def test_a_tidy_csv_with_a_bad_number_names_row_and_column(tmp_path: Path) -> None:
    path = tmp_path / "tidy.csv"
    good = ["2025-05-01T00:00:00+00:00", "2025-05-01T09:00:00+09:00", "30", "tokyo"]
    cells = [*good, *["100"] * (len(TIDY_COLUMNS) - 4)]
    bad = [*good[:2], "30", "tokyo", "1,5", *["100"] * (len(TIDY_COLUMNS) - 5)]
    path.write_text("\n".join([",".join(TIDY_COLUMNS), ",".join(cells),
                               ",".join(f'"{c}"' for c in bad)]) + "\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        read_tidy_csv(path)
    assert (err.value.source, err.value.field, err.value.value) == (f"{path} row 3",
                                                                     "demand_mw", "1,5")


def test_a_tidy_csv_without_the_tidy_columns_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "tidy.csv"
    path.write_text("time_utc,time_jst,slot_minutes,area,demand_mw\n", encoding="utf-8")
    with pytest.raises(InputError, match="missing nuclear_mw"):
        read_tidy_csv(path)

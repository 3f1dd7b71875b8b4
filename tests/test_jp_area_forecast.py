"""The TSOs' day-ahead area forecast files (エリア需給予測): every TSO's sample parses to its
48 half hours with the issue time, in MW; bad files get one-line errors."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from forecasts.sources.jp_area_forecast import parse_area_forecast, parse_area_forecasts
from inputs.errors import InputError
from scheduler.cli import app

ZONES = {"JP-CB": "chubu", "JP-HKD": "hokkaido", "JP-HR": "hokuriku", "JP-KN": "kansai",
         "JP-KY": "kyushu", "JP-ON": "okinawa", "JP-SK": "shikoku", "JP-TH": "tohoku",
         "JP-TK": "tokyo"}

KYUSHU = ("ファイル更新日,ファイル更新時間,対象年月日\n20250407,22:50:00,20250407\n"
          "日付,時間コマ,時間帯＿自,時間帯＿至,エリア総需要量,エリア総発電量,"
          "エリア風力・太陽光発電量\n-,-,-,-,ｋＷｈ,ｋＷｈ,ｋＷｈ\n")


def day(rows: int = 48, start_slot: int = 1) -> str:
    return KYUSHU + "".join(f"20250407,{k},x,y,{1000 * k},{2000 * k},{500}\n"
                            for k in range(start_slot, start_slot + rows))


def test_a_file_hand_worked() -> None:
    df = parse_area_forecast(day().encode("cp932"), "kyushu", name="kyushu.csv")
    assert len(df) == 48 and (df.area == "kyushu").all()
    assert df.time_jst.iloc[0] == pd.Timestamp("2025-04-07 00:00", tz="Asia/Tokyo")
    assert df.time_utc.iloc[1] == pd.Timestamp("2025-04-06 15:30", tz="UTC")
    # 3,000 kWh in slot 3 (a half hour) = 6,000 kW = 6 MW mean
    assert df.demand_mw.iloc[2] == pytest.approx(6.0)
    assert df.wind_solar_mw.iloc[0] == pytest.approx(1.0)
    assert df.issued_at_utc.iloc[0] == pd.Timestamp("2025-04-07 13:50", tz="UTC")


@pytest.mark.parametrize(("text", "field"), [
    (KYUSHU, "content"),
    (day(rows=2, start_slot=48), "時間コマ"),
    (day(rows=2) + "20250407,1,x,y,1,1,1\n", "time"),
    (day(rows=1).replace(",1000,2000,500", ",-1000,2000,500"), "line 5"),
])
def test_bad_files_name_what_is_wrong(text: str, field: str) -> None:
    with pytest.raises(InputError, match=field):
        parse_area_forecast(text.encode("cp932"), "kyushu", name="f.csv")


@pytest.mark.shared_data
@pytest.mark.parametrize("zone", sorted(ZONES))
def test_every_tso_sample_parses(shared_data: Path, zone: str) -> None:
    (path,) = (shared_data / "grid" / "jp_area_forecast_samples" / zone).iterdir()
    df = parse_area_forecast(path, ZONES[zone])
    assert len(df) == 48
    assert df.time_jst.iloc[0].hour == 0 and df.time_jst.diff().dropna().eq(
        pd.Timedelta(minutes=30)).all()
    assert df.issued_at_utc.notna().all()  # incl. Hokuriku's "… UPDATE" line
    assert (df.demand_mw > 0).all() and (df.wind_solar_mw >= 0).all()
    assert (df.wind_solar_mw <= df.generation_mw).all()


@pytest.mark.shared_data
def test_chugoku_archive_through_the_cli(shared_data: Path, tmp_path: Path) -> None:
    archive = shared_data / "grid" / "jp_area_forecast_samples" / "JP-CG" / (
        "202504_jyukyu2_chugoku.zip")
    out = tmp_path / "cg.csv"
    res = CliRunner().invoke(app, ["forecast", "import", "jp-area-forecast", str(archive),
                                   "--out", str(out)])
    assert res.exit_code == 0, res.output
    df = pd.read_csv(out)
    assert len(df) == 17 * 48 and set(df.area) == {"chugoku"}  # 1–17 April, forecasts only
    assert df.time_utc.is_monotonic_increasing
    bad = CliRunner().invoke(app, ["forecast", "import", "jp-area-forecast",
                                   str(archive.parent.parent / "JP-TK" / "AREA_YOSOKU.csv"),
                                   "--out", str(out)])
    assert bad.exit_code == 2 and "--area is required" in bad.output
    assert len(parse_area_forecasts([archive])) == 17 * 48

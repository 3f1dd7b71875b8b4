"""The area supply–demand parser on the real TSO files in ../shared/data/grid (SOURCES.md §1)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forecasts.sources.jp_tso.layouts import area_from_name, normalise_label
from forecasts.sources.jp_tso.parse import (
    TIDY_COLUMNS,
    parse_area_file,
    parse_area_files,
    write_tidy_csv,
)
from inputs.errors import InputError

pytestmark = pytest.mark.shared_data

QUARTERS = {  # FY quarter → (first day, last day, hourly rows)
    "2022_1": ("2022-04-01", "2022-06-30", 2184), "2022_2": ("2022-07-01", "2022-09-30", 2208),
    "2022_3": ("2022-10-01", "2022-12-31", 2208), "2022_4": ("2023-01-01", "2023-03-31", 2160),
    "2023_1": ("2023-04-01", "2023-06-30", 2184), "2023_2": ("2023-07-01", "2023-09-30", 2208),
    "2023_3": ("2023-10-01", "2023-12-31", 2208),
}


def _expected_files() -> list[tuple[str, str, int, int, str, str]]:
    """(relative path, area, slot minutes, rows, first slot JST, last slot JST) per file."""
    rows = []
    for q, (first, last, n) in QUARTERS.items():
        year, quarter = q.split("_")
        for rel, area in ((f"kyushu/area_jyukyu_jisseki_{year}_{quarter}Q.csv", "kyushu"),
                          (f"hokkaido/sup_dem_results_{year}_{quarter}q.csv", "hokkaido"),
                          (f"tohoku/juyo_{year}_tohoku_{quarter}Q.txt", "tohoku")):
            rows.append((rel, area, 60, n, f"{first} 00:00", f"{last} 23:00"))
    rows += [
        ("chugoku/eria_jyukyu.csv", "chugoku", 60, 24120, "2021-04-01 00:00", "2023-12-31 23:00"),
        ("shikoku/jukyu2022.csv", "shikoku", 60, 8760, "2022-04-01 00:00", "2023-03-31 23:00"),
        ("shikoku/jukyu2023.csv", "shikoku", 60, 6600, "2023-04-01 00:00", "2023-12-31 23:00"),
    ]
    for month in pd.period_range("2025-04", "2026-02", freq="M"):
        rows.append((f"tokyo/eria_jukyu_{month:%Y%m}_03.csv", "tokyo", 30,
                     month.days_in_month * 48, f"{month.start_time:%Y-%m-%d} 00:00",
                     f"{month.end_time:%Y-%m-%d} 23:30"))
    rows.append(("tokyo/eria_jukyu_202603_03.csv", "tokyo", 30, 670, "2026-03-01 00:00",
                 "2026-03-14 22:30"))
    samples = {"202603_04": "chubu", "202604_01": "hokkaido", "202604_03": "tokyo",
               "202604_05": "hokuriku", "202604_06": "kansai", "202604_07": "chugoku",
               "202604_08": "shikoku", "202604_09": "kyushu", "202604_10": "okinawa"}
    for stem, area in samples.items():
        day = f"{stem[:4]}-{stem[4:6]}"
        rows.append((f"format_samples_2026/eria_jukyu_{stem}.csv", area, 30, 100,
                     f"{day}-01 00:00", f"{day}-03 01:30"))
    rows.append(("format_samples_2026/realtime_jukyu_20260415_02.csv", "tohoku", 30, 43,
                 "2026-04-15 00:00", "2026-04-15 21:00"))
    return rows


EXPECTED = _expected_files()


@pytest.fixture(scope="module")
def area_dir(shared_data: Path) -> Path:
    return shared_data / "grid" / "jp_area_supply_demand"


def _jst(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="Asia/Tokyo")


def _year(df: pd.DataFrame, year: int) -> pd.DataFrame:
    return df[df["time_jst"].dt.year == year]


def test_the_expectations_cover_every_csv_in_the_shared_folder(area_dir: Path) -> None:
    on_disk = {str(p.relative_to(area_dir)) for p in area_dir.rglob("*")
               if p.suffix in {".csv", ".txt"}}
    assert on_disk == {row[0] for row in EXPECTED}


@pytest.mark.parametrize(("rel", "area", "slot", "n_rows", "first", "last"), EXPECTED,
                         ids=[row[0] for row in EXPECTED])
def test_every_area_file_parses_to_a_gapless_tidy_table(
    area_dir: Path, rel: str, area: str, slot: int, n_rows: int, first: str, last: str
) -> None:
    df = parse_area_file(area_dir / rel)
    assert tuple(df.columns) == TIDY_COLUMNS
    assert len(df) == n_rows
    assert (df["area"] == area).all()
    assert (df["slot_minutes"] == slot).all()
    assert df["time_jst"].iloc[0] == _jst(first)
    assert df["time_jst"].iloc[-1] == _jst(last)
    assert str(df["time_utc"].dt.tz) == "UTC"
    assert str(df["time_jst"].dt.tz) == "Asia/Tokyo"
    assert (df["time_utc"] == df["time_jst"]).all()
    steps = df["time_utc"].diff().dropna().unique()
    assert list(steps) == [pd.Timedelta(minutes=slot)]
    assert df["demand_mw"].notna().all()
    assert (df["demand_mw"] > 0).all()
    mw = [c for c in TIDY_COLUMNS if c.endswith("_mw")]
    assert all(df[c].dtype == np.float64 for c in mw)


def test_tidy_columns_are_exactly_the_issue_list() -> None:
    assert TIDY_COLUMNS == (
        "time_utc", "time_jst", "slot_minutes", "area", "demand_mw", "nuclear_mw",
        "thermal_mw", "lng_mw", "coal_mw", "oil_mw", "other_thermal_mw", "hydro_mw",
        "geothermal_mw", "biomass_mw", "solar_mw", "solar_curtailed_mw", "wind_mw",
        "wind_curtailed_mw", "pumped_storage_mw", "battery_mw", "interconnection_mw",
    )


def test_kyushu_calendar_2023_solar_curtailment_matches_sources(area_dir: Path) -> None:
    files = [area_dir / f"kyushu/area_jyukyu_jisseki_{q}Q.csv"
             for q in ("2022_4", "2023_1", "2023_2", "2023_3")]
    year = _year(parse_area_files(files), 2023)
    assert len(year) == 8760
    curtailed = year["solar_curtailed_mw"]
    assert curtailed.sum() == pytest.approx(1_343_774)
    assert (curtailed > 0).sum() == 1162


def test_chugoku_dash_means_no_curtailment(area_dir: Path) -> None:
    df = parse_area_file(area_dir / "chugoku/eria_jyukyu.csv")
    assert df["solar_curtailed_mw"].notna().all()
    assert df["wind_curtailed_mw"].notna().all()
    assert df["solar_curtailed_mw"].iloc[0] == 0.0  # first row holds `－`
    year = _year(df, 2023)
    assert year["solar_curtailed_mw"].sum() == pytest.approx(297_658)
    assert (year["solar_curtailed_mw"] > 0).sum() == 335


def test_hokkaido_dates_written_once_per_day_are_carried_down(area_dir: Path) -> None:
    df = parse_area_files(sorted((area_dir / "hokkaido").glob("*.csv")))
    per_day = df.groupby(df["time_jst"].dt.date).size()
    assert (per_day == 24).all()
    year = _year(df, 2023)
    assert year["solar_curtailed_mw"].sum() == pytest.approx(811)
    assert (year["solar_curtailed_mw"] > 0).sum() == 8


def test_hokkaido_numbers_with_trailing_spaces_are_read(area_dir: Path) -> None:
    raw = (area_dir / "hokkaido/sup_dem_results_2022_1q.csv").read_bytes()
    padded = raw.replace(b"\r\n2022/4/1,0\x8e\x9e,3285,", b"\r\n2022/4/1,0\x8e\x9e,3285 ,")
    assert padded != raw
    df = parse_area_file(padded, name="sup_dem_results_2022_1q.csv")
    assert df["demand_mw"].iloc[0] == 3285.0


def test_tohoku_columns_are_read_by_name_not_position(area_dir: Path) -> None:
    df = parse_area_files(sorted((area_dir / "tohoku").glob("*.txt")))
    first = df.iloc[0]  # 2022/4/1 0:00,8385,2129,7239,0,0,0,617,0,128,518,0,-2246
    assert (first["demand_mw"], first["hydro_mw"], first["thermal_mw"]) == (8385, 2129, 7239)
    assert (first["wind_mw"], first["geothermal_mw"], first["biomass_mw"]) == (617, 128, 518)
    assert first["interconnection_mw"] == -2246
    jan_mar = df[(df["time_jst"] >= _jst("2023-01-01")) & (df["time_jst"] < _jst("2023-04-01"))]
    # SOURCES.md's "calendar-2023" Tohoku figures are those of Jan–Mar 2023 (FY2022 Q4 file)
    assert jan_mar["solar_curtailed_mw"].sum() == pytest.approx(13_472)
    assert (jan_mar["solar_curtailed_mw"] > 0).sum() == 29
    assert jan_mar["wind_curtailed_mw"].sum() == pytest.approx(875)
    year = _year(df, 2023)
    assert year["solar_curtailed_mw"].sum() == pytest.approx(99_442)
    assert year["wind_curtailed_mw"].sum() == pytest.approx(17_680)


def test_tokyo_fy2025_has_twenty_curtailed_half_hours(area_dir: Path) -> None:
    df = parse_area_files(sorted((area_dir / "tokyo").glob("*.csv")))
    curtailed = df["solar_curtailed_mw"]
    assert (curtailed > 0).sum() == 20
    assert curtailed.sum() == pytest.approx(12_328)
    mwh = (curtailed * df["slot_minutes"] / 60).sum()
    assert mwh == pytest.approx(6_164)


def test_kyushu_2026_end_of_slot_labels_become_slot_starts(area_dir: Path) -> None:
    df = parse_area_file(area_dir / "format_samples_2026/eria_jukyu_202604_09.csv")
    # file row "20260401","0:30" (demand 7838) is the slot 00:00-00:30
    assert df["time_jst"].iloc[0] == _jst("2026-04-01 00:00")
    assert df["demand_mw"].iloc[0] == 7838
    # file row "20260401","24:00" (demand 8270) is the slot 23:30-24:00 of April 1
    row = df[df["time_jst"] == _jst("2026-04-01 23:30")].iloc[0]
    assert (row["demand_mw"], row["lng_mw"], row["coal_mw"]) == (8270, 1108, 2934)
    assert df["time_jst"].iloc[48] == _jst("2026-04-02 00:00")


def test_shikoku_man_kw_is_scaled_by_ten(area_dir: Path) -> None:
    df = parse_area_file(area_dir / "shikoku/jukyu2022.csv")
    assert df["demand_mw"].iloc[0] == 2420  # 242 万kW
    assert df["interconnection_mw"].iloc[0] == -1530
    # the file's own summary row 合計（百万kWh）: demand 27,335, thermal 24,442, solar 4,226
    gwh = df[["demand_mw", "thermal_mw", "solar_mw", "nuclear_mw"]].sum() / 1000
    assert gwh.to_dict() == pytest.approx(
        {"demand_mw": 27_335, "thermal_mw": 24_442, "solar_mw": 4_226, "nuclear_mw": 6_918},
        rel=1e-3)


def test_shikoku_dash_in_geothermal_means_not_applicable(area_dir: Path) -> None:
    df = parse_area_file(area_dir / "shikoku/jukyu2022.csv")
    assert df["geothermal_mw"].isna().all()
    assert df["solar_curtailed_mw"].notna().all()


def test_unified_layout_thermal_is_the_sum_of_its_fuels(area_dir: Path) -> None:
    df = parse_area_file(area_dir / "format_samples_2026/eria_jukyu_202604_03.csv")
    parts = df[["lng_mw", "coal_mw", "oil_mw", "other_thermal_mw"]].sum(axis=1)
    assert (df["thermal_mw"] == parts).all()
    assert df["thermal_mw"].iloc[0] == 9737 + 6769 + 115 + 1438
    legacy = parse_area_file(area_dir / "kyushu/area_jyukyu_jisseki_2023_1Q.csv")
    assert legacy[["lng_mw", "coal_mw", "oil_mw", "other_thermal_mw", "battery_mw"]].isna().all(
        axis=None)


def test_unified_22_column_layout_skips_thermal_and_biomass_curtailment(area_dir: Path) -> None:
    df = parse_area_file(area_dir / "format_samples_2026/eria_jukyu_202604_01.csv")
    first = df.iloc[0]  # 2026/04/01,00:00,2930,0,367,1079,326,210,0,396,10,296,0,0,0,275,…
    assert (first["lng_mw"], first["coal_mw"], first["oil_mw"]) == (367, 1079, 326)
    assert (first["other_thermal_mw"], first["hydro_mw"], first["biomass_mw"]) == (210, 396, 296)
    assert (first["wind_mw"], first["pumped_storage_mw"], first["battery_mw"]) == (275, 60, -5)
    assert first["interconnection_mw"] == -84


def test_kansai_full_width_brackets_map_to_the_fuel_split(area_dir: Path) -> None:
    df = parse_area_file(area_dir / "format_samples_2026/eria_jukyu_202604_06.csv")
    first = df.iloc[0]  # 2026/4/1,0:00,11575,4610,3003,1489,6,563,…
    assert (first["lng_mw"], first["coal_mw"], first["oil_mw"]) == (3003, 1489, 6)
    assert normalise_label("火力（ＬＮＧ）") == normalise_label("火力(LNG)") == "火力LNG"


def test_shikoku_sample_empty_cells_are_missing_not_zero(area_dir: Path) -> None:
    df = parse_area_file(area_dir / "format_samples_2026/eria_jukyu_202604_08.csv")
    assert df["geothermal_mw"].isna().all()
    assert df["demand_mw"].iloc[0] == 2102


def test_tohoku_realtime_file_drops_the_empty_later_half_hours(area_dir: Path) -> None:
    df = parse_area_file(area_dir / "format_samples_2026/realtime_jukyu_20260415_02.csv")
    assert df["time_jst"].iloc[-1] == _jst("2026-04-15 21:00")
    assert df[list(TIDY_COLUMNS[4:])].notna().all(axis=None)


def test_cp932_bytes_parse_the_same_as_the_path(area_dir: Path) -> None:
    path = area_dir / "kyushu/area_jyukyu_jisseki_2023_1Q.csv"
    from_bytes = parse_area_file(path.read_bytes(), name=path.name)
    pd.testing.assert_frame_equal(from_bytes, parse_area_file(path))


def test_utf8_with_bom_and_cp932_encodings_give_the_same_table(area_dir: Path) -> None:
    path = area_dir / "format_samples_2026/eria_jukyu_202604_03.csv"  # UTF-8, no BOM
    text = path.read_bytes().decode("utf-8")
    plain = parse_area_file(path)
    for raw in (b"\xef\xbb\xbf" + text.encode("utf-8"), text.encode("cp932")):
        pd.testing.assert_frame_equal(parse_area_file(raw, name=path.name), plain)


def test_undecodable_bytes_are_an_input_error() -> None:
    with pytest.raises(InputError, match="neither UTF-8 nor CP932"):
        parse_area_file(b"DATE,TIME\n\x81\xff\xfe\n", name="eria_jukyu_202604_03.csv")


def test_garbled_header_raises_input_error_naming_the_line(area_dir: Path) -> None:
    raw = (area_dir / "chugoku/eria_jyukyu.csv").read_bytes()
    demand = ",TIME,需要,".encode("cp932")
    garbled = raw.replace(demand, ",TIME,需用,".encode("cp932"), 1)
    with pytest.raises(InputError, match=r"eria_jyukyu\.csv line 3: header=.*DATE,TIME,需用") as e:
        parse_area_file(garbled, name="eria_jyukyu.csv")
    assert "unknown column '需用'" in str(e.value)
    blanked = raw.replace(demand, b",TIME,,", 1)
    with pytest.raises(InputError, match=r"line 3: .*no demand column"):
        parse_area_file(blanked, name="eria_jyukyu.csv")


def test_a_file_without_a_date_header_names_the_line_above_the_data() -> None:
    raw = "単位[MW平均]\nDAY,TIME,エリア需要\n2026/4/1,0:00,100\n".encode()
    with pytest.raises(InputError, match=r"x\.csv line 2: header='DAY,TIME,エリア需要'.*DATE"):
        parse_area_file(raw, area="tokyo", name="x.csv")


def test_a_bad_number_names_its_line_and_column(area_dir: Path) -> None:
    raw = (area_dir / "chugoku/eria_jyukyu.csv").read_bytes()
    bad = raw.replace(b"2021/4/1,1:00,5291,", b"2021/4/1,1:00,52x1,", 1)
    with pytest.raises(InputError, match=r"line 5: demand_mw='52x1': not a number"):
        parse_area_file(bad, name="eria_jyukyu.csv")


def test_a_bad_time_label_names_its_line(area_dir: Path) -> None:
    raw = (area_dir / "chugoku/eria_jyukyu.csv").read_bytes()
    bad = raw.replace(b"2021/4/1,1:00,", b"2021/4/1,1:77x,", 1)
    with pytest.raises(InputError, match=r"line 5: time='1:77x'"):
        parse_area_file(bad, name="eria_jyukyu.csv")


def test_bytes_without_a_recognisable_name_need_an_area(area_dir: Path) -> None:
    raw = (area_dir / "chugoku/eria_jyukyu.csv").read_bytes()
    with pytest.raises(InputError, match="--area is required"):
        parse_area_file(raw)
    assert parse_area_file(raw, area="chugoku")["area"].iloc[0] == "chugoku"


def test_an_area_contradicting_the_file_name_is_an_error(area_dir: Path) -> None:
    with pytest.raises(InputError, match="file name says chugoku"):
        parse_area_file(area_dir / "chugoku/eria_jyukyu.csv", area="kyushu")
    with pytest.raises(InputError, match="unknown area"):
        parse_area_file(area_dir / "chugoku/eria_jyukyu.csv", area="kanto")


@pytest.mark.parametrize(("name", "area"), [
    ("eria_jukyu_202604_01.csv", "hokkaido"), ("eria_jukyu_202604_10.csv", "okinawa"),
    ("realtime_jukyu_20260415_02.csv", "tohoku"), ("area_jyukyu_jisseki_2023_1Q.csv", "kyushu"),
    ("sup_dem_results_2023_1q.csv", "hokkaido"), ("juyo_2023_tohoku_1Q.txt", "tohoku"),
    ("jukyu2023.csv", "shikoku"), ("/x/y/eria_jyukyu.csv", "chugoku"),
    ("kansai_2023.csv", "kansai"), ("eria_jukyu_202604_11.csv", None), ("data.csv", None),
])
def test_area_is_recognised_from_the_file_name(name: str, area: str | None) -> None:
    assert area_from_name(name) == area


def test_files_of_different_areas_cannot_be_combined(area_dir: Path) -> None:
    files = [area_dir / "kyushu/area_jyukyu_jisseki_2023_1Q.csv",
             area_dir / "chugoku/eria_jyukyu.csv"]
    with pytest.raises(InputError, match="differs from"):
        parse_area_files(files)


def test_quarters_given_in_any_order_come_out_in_time_order(area_dir: Path) -> None:
    files = sorted((area_dir / "kyushu").glob("*.csv"))
    df = parse_area_files(files[::-1])
    assert df["time_utc"].is_monotonic_increasing
    assert df["time_utc"].is_unique
    assert len(df) == sum(row[3] for row in EXPECTED if row[0].startswith("kyushu/"))


def test_overlapping_files_keep_the_later_files_value(area_dir: Path, tmp_path: Path) -> None:
    monthly = area_dir / "tokyo/eria_jukyu_202504_03.csv"
    lines = monthly.read_text(encoding="utf-8").splitlines()
    revised = [lines[0], lines[1]]
    for line in lines[2:50]:  # first day, demand + 1 MW
        cells = line.split(",")
        cells[2] = str(int(cells[2]) + 1)
        revised.append(",".join(cells))
    realtime = tmp_path / "realtime_jukyu_20250401_03.csv"
    realtime.write_text("\n".join(revised) + "\n", encoding="utf-8")
    original = parse_area_file(monthly)
    merged = parse_area_files([monthly, realtime])
    assert len(merged) == len(original)
    delta = merged["demand_mw"] - original["demand_mw"]
    assert (delta.iloc[:48] == 1).all()
    assert (delta.iloc[48:] == 0).all()
    earlier_wins = parse_area_files([realtime, monthly])
    assert (earlier_wins["demand_mw"] == original["demand_mw"]).all()


def test_tidy_csv_has_iso_times_with_offsets_and_empty_missing_cells(
    area_dir: Path, tmp_path: Path
) -> None:
    df = parse_area_file(area_dir / "chugoku/eria_jyukyu.csv")
    out = tmp_path / "tidy.csv"
    write_tidy_csv(df, out)
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines[0] == ",".join(TIDY_COLUMNS)
    assert lines[1] == ("2021-03-31T15:00:00+00:00,2021-04-01T00:00:00+09:00,60,chugoku,"
                        "5202,0,4148,,,,,305,0,229,0,0,45,0,-19,,494")
    assert len(lines) == 24121

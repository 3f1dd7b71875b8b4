"""`wattbit forecast import jp-tso FILE... --out tidy.csv` on the real TSO files."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from typer.testing import CliRunner

from forecasts.sources.jp_tso.parse import TIDY_COLUMNS
from scheduler.cli import app

pytestmark = pytest.mark.shared_data

runner = CliRunner()


@pytest.fixture(scope="module")
def area_dir(shared_data: Path) -> Path:
    return shared_data / "grid" / "jp_area_supply_demand"


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _import(*args: str | Path) -> tuple[int, str, str]:
    result = runner.invoke(app, ["forecast", "import", "jp-tso", *map(str, args)])
    return result.exit_code, result.stdout, result.stderr


def test_import_writes_exactly_the_tidy_columns(area_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "tidy.csv"
    code, stdout, _ = _import(area_dir / "chugoku/eria_jyukyu.csv", "--out", out)
    assert code == 0
    assert "24120 slots" in stdout
    with out.open(encoding="utf-8") as fh:
        header = next(csv.reader(fh))
    assert tuple(header) == TIDY_COLUMNS
    rows = _read(out)
    assert len(rows) == 24120
    assert rows[0]["time_utc"] == "2021-03-31T15:00:00+00:00"
    assert rows[0]["time_jst"] == "2021-04-01T00:00:00+09:00"
    assert rows[-1]["time_jst"] == "2023-12-31T23:00:00+09:00"
    assert rows[0]["solar_curtailed_mw"] == "0"
    assert rows[0]["lng_mw"] == "" and rows[0]["battery_mw"] == ""


def test_import_concatenates_kyushu_quarters_in_time_order(area_dir: Path, tmp_path: Path) -> None:
    quarters = [area_dir / f"kyushu/area_jyukyu_jisseki_{q}Q.csv"
                for q in ("2023_3", "2022_4", "2023_2", "2023_1")]
    out = tmp_path / "kyushu.csv"
    code, _, _ = _import(*quarters, "--out", out)
    assert code == 0
    rows = _read(out)
    times = [r["time_utc"] for r in rows]
    assert times == sorted(times)
    assert len(rows) == 8760
    assert rows[0]["time_jst"] == "2023-01-01T00:00:00+09:00"
    assert rows[-1]["time_jst"] == "2023-12-31T23:00:00+09:00"
    assert sum(float(r["solar_curtailed_mw"]) for r in rows) == pytest.approx(1_343_774)


def test_import_deduplicates_overlapping_files(area_dir: Path, tmp_path: Path) -> None:
    q1 = area_dir / "kyushu/area_jyukyu_jisseki_2023_1Q.csv"
    q2 = area_dir / "kyushu/area_jyukyu_jisseki_2023_2Q.csv"
    out = tmp_path / "kyushu.csv"
    code, _, _ = _import(q1, q2, q1, "--out", out)
    assert code == 0
    times = [r["time_utc"] for r in _read(out)]
    assert len(times) == len(set(times)) == 2184 + 2208


def test_unrecognised_area_without_option_exits_2_with_one_line_error(
    area_dir: Path, tmp_path: Path
) -> None:
    renamed = tmp_path / "data.csv"
    renamed.write_bytes((area_dir / "chugoku/eria_jyukyu.csv").read_bytes())
    out = tmp_path / "tidy.csv"
    code, _, stderr = _import(renamed, "--out", out)
    assert code == 2
    assert stderr.startswith("error: ") and stderr.count("\n") == 1
    assert "--area is required" in stderr
    assert not out.exists()
    code, _, _ = _import(renamed, "--area", "chugoku", "--out", out)
    assert code == 0
    assert {r["area"] for r in _read(out)} == {"chugoku"}


def test_garbled_file_exits_2_naming_the_header_line(area_dir: Path, tmp_path: Path) -> None:
    raw = (area_dir / "tohoku/juyo_2023_tohoku_1Q.txt").read_bytes()
    garbled = tmp_path / "juyo_2023_tohoku_1Q.txt"
    garbled.write_bytes(raw.replace("エリア需要".encode("cp932"), b"????", 1))
    code, _, stderr = _import(garbled, "--out", tmp_path / "tidy.csv")
    assert code == 2
    assert "juyo_2023_tohoku_1Q.txt line 1: header=" in stderr
    assert stderr.count("\n") == 1


def test_files_of_two_areas_exit_2(area_dir: Path, tmp_path: Path) -> None:
    code, _, stderr = _import(area_dir / "kyushu/area_jyukyu_jisseki_2023_1Q.csv",
                              area_dir / "chugoku/eria_jyukyu.csv",
                              "--out", tmp_path / "tidy.csv")
    assert code == 2
    assert "differs from" in stderr

"""How fast the TSO area-file parser reads a year of one area, against a bare read_csv.

Usage: `python benchmarks/parse_speed.py [--data ../shared/data] [--repeat 3]`

For each case it prints the best-of-N wall time of `parse_area_files` (decode, header
recognition, numbers, times, de-duplication), rows per second, the time per 8,760-hour
year equivalent, and — measured in the same run on the same bytes — the time of a bare
`pandas.read_csv` (known encoding and header rows given, no cleaning), with the ratio.
The target is about one second per area-year.
"""

from __future__ import annotations

import argparse
import io
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from forecasts.sources.jp_tso.parse import parse_area_files

REPO = Path(__file__).resolve().parents[1]
AREA_DIR = Path("grid") / "jp_area_supply_demand"


@dataclass(frozen=True)
class Case:
    """One benchmark case: files of one area and how a bare read_csv would read them."""

    label: str
    files: tuple[str, ...]
    encoding: str
    header_rows: int


CASES = (
    Case("chugoku FY2021-2023 (1 file, hourly)", ("chugoku/eria_jyukyu.csv",), "cp932", 3),
    Case("kyushu CY2023 (4 quarter files, hourly)",
         tuple(f"kyushu/area_jyukyu_jisseki_{q}Q.csv"
               for q in ("2022_4", "2023_1", "2023_2", "2023_3")), "cp932", 2),
    Case("shikoku FY2022 (1 file, 万kW, hourly)", ("shikoku/jukyu2022.csv",), "utf-8-sig", 9),
    Case("tokyo FY2025 (12 monthly files, 30-min)",
         tuple(f"tokyo/eria_jukyu_{m:%Y%m}_03.csv"
               for m in pd.period_range("2025-04", "2026-03", freq="M")), "utf-8", 2),
)


def best_of(repeat: int, work: Callable[[], object]) -> float:
    """Smallest wall time of `repeat` runs, in seconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times)


def run_case(case: Case, root: Path, repeat: int) -> dict[str, float | int | str]:
    """Time the parser and the bare read_csv baseline on one case."""
    paths = [root / f for f in case.files]
    blobs = [p.read_bytes() for p in paths]
    rows = len(parse_area_files(paths))  # warm-up, and the row count

    def bare() -> None:
        for raw in blobs:
            pd.read_csv(io.BytesIO(raw), encoding=case.encoding, skiprows=case.header_rows,
                        header=None)

    parse_s = best_of(repeat, lambda: parse_area_files(paths))
    bare_s = best_of(repeat, bare)
    slot_hours = 0.5 if "30-min" in case.label else 1.0
    years = rows * slot_hours / 8760
    return {"case": case.label, "rows": rows, "parse_s": parse_s, "rows_per_s": rows / parse_s,
            "s_per_year": parse_s / years, "read_csv_s": bare_s, "ratio": parse_s / bare_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data",
                        help="shared data folder (default ../shared/data beside the repo)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per timing (best is kept)")
    args = parser.parse_args()
    root = args.data / AREA_DIR
    if not root.is_dir():
        parser.error(f"{root} not found (give --data)")
    print(f"{'case':44} {'rows':>6} {'parse s':>8} {'rows/s':>9} {'s/year':>7} "
          f"{'read_csv s':>10} {'ratio':>6}")
    for case in CASES:
        r = run_case(case, root, args.repeat)
        print(f"{r['case']:44} {r['rows']:>6} {r['parse_s']:>8.3f} {r['rows_per_s']:>9.0f} "
              f"{r['s_per_year']:>7.3f} {r['read_csv_s']:>10.3f} {r['ratio']:>5.1f}x")


if __name__ == "__main__":
    main()

"""The TSOs' published day-ahead area forecasts (エリア需給予測, OCCTO's common layout): area
demand, generation and wind + solar for each half hour of the target day, as issued.

Layout (per SOURCES.md §1.8; headers, date formats and extra rows vary by TSO): an update
row "ファイル更新日, ファイル更新時間, 対象年月日" with its values (Hokuriku writes
`2025/4/15 22:51 UPDATE` instead), then rows `date, slot 1–48, from, to, demand, generation,
wind + solar`, all in kWh per 30 minutes. Title and unit rows are skipped. The slot number
gives the time (slot k starts (k − 1) × 30 min after 00:00 JST of the date), so the clock
spellings (`0:00`, `00:00`, `0000`) do not matter. A `.zip` (Chugoku's monthly archive) is
read member by member, taking the forecast (`yosoku`) files.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Sequence
from pathlib import Path, PurePath

import numpy as np
import pandas as pd

from forecasts.sources.jp_tso.parse import decode, read_source, resolve_area
from inputs.errors import InputError

COLUMNS = ("area", "time_utc", "time_jst", "issued_at_utc", "demand_mw", "generation_mw",
           "wind_solar_mw")
JST = "Asia/Tokyo"
KWH_PER_30MIN_TO_MW = 2.0 / 1000.0
"""kWh in half an hour → mean MW over it."""
_UPDATE_LABEL = "ファイル更新日"
_UPDATE_LINE = re.compile(r"^\s*(\d{4}/\d{1,2}/\d{1,2})\s+(\d{1,2}:\d{2}(?::\d{2})?)\s+UPDATE")


def parse_area_forecast(source: str | Path | bytes, area: str | None = None,
                        name: str | None = None) -> pd.DataFrame:
    """One forecast file (path or bytes named `name`) → a frame in `COLUMNS` (MW, UTC and
    JST slot starts, the issue time in UTC or NaT). `area` is required when the file name
    does not say it. Raises `InputError` naming the file and the row."""
    src, raw = read_source(source, name)
    area = resolve_area(src, area)
    rows = list(csv.reader(io.StringIO(decode(raw, src))))
    issued = _issued_at(rows, src)
    records = []
    for line, row in enumerate(rows, start=1):
        cells = [c.strip() for c in row]
        if len(cells) < 7 or not cells[1].isdigit():
            continue
        day = _date(cells[0])
        values = _numbers(cells[4:7])
        if day is None or values is None:
            continue
        slot = int(cells[1])
        if not 1 <= slot <= 48:
            raise InputError(src, f"line {line} 時間コマ", cells[1], "slot must be 1–48")
        if min(values) < 0:
            raise InputError(src, f"line {line}", cells[4:7], "kWh must be ≥ 0")
        records.append((day + pd.Timedelta(minutes=30 * (slot - 1)), *values))
    if not records:
        raise InputError(src, "content", "", "no forecast rows (date, slot 1–48, three kWh)")
    frame = pd.DataFrame(records, columns=["time_jst", "demand", "generation", "wind_solar"])
    dup = frame["time_jst"].duplicated()
    if dup.any():
        raise InputError(src, "time", frame["time_jst"][dup].iloc[0].isoformat(),
                         "slot given twice")
    out = pd.DataFrame({
        "area": area, "time_utc": frame["time_jst"].dt.tz_convert("UTC"),
        "time_jst": frame["time_jst"], "issued_at_utc": issued,
        "demand_mw": frame["demand"] * KWH_PER_30MIN_TO_MW,
        "generation_mw": frame["generation"] * KWH_PER_30MIN_TO_MW,
        "wind_solar_mw": frame["wind_solar"] * KWH_PER_30MIN_TO_MW})
    return out.sort_values("time_utc", kind="stable").reset_index(drop=True)


def parse_area_forecasts(sources: Sequence[str | Path], area: str | None = None
                         ) -> pd.DataFrame:
    """Forecast files and `.zip` archives of one area → one frame in time order; a slot in
    several files keeps the latest issue."""
    parts = []
    for source in sources:
        path = Path(source)
        if path.suffix.lower() == ".zip":
            parts += _zip_members(path, area)
        else:
            parts.append(parse_area_forecast(path, area))
    if not parts:
        raise InputError("files", "count", 0, "no forecast file given")
    if len({p["area"].iloc[0] for p in parts}) > 1:
        raise InputError("files", "area", sorted({p["area"].iloc[0] for p in parts}),
                         "files of one area only")
    out = pd.concat(parts, ignore_index=True)
    out = out.sort_values(["time_utc", "issued_at_utc"], kind="stable", na_position="first")
    out = out.drop_duplicates(subset="time_utc", keep="last")
    return out.reset_index(drop=True)[list(COLUMNS)]


def _zip_members(path: Path, area: str | None) -> list[pd.DataFrame]:
    try:
        archive = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        raise InputError(str(path), "zip", path.name, f"not a readable zip ({exc})") from None
    with archive:
        names = sorted(n for n in archive.namelist() if "yosoku" in PurePath(n).name.lower())
        if not names:
            raise InputError(str(path), "members", archive.namelist()[:3],
                             "no forecast (yosoku) file inside")
        named_area = area or resolve_area(str(path), None)
        return [parse_area_forecast(archive.read(n), named_area, name=f"{path}:{n}")
                for n in names]


def _issued_at(rows: list[list[str]], src: str) -> pd.Timestamp:
    """The file's update time (UTC), from the update row or Hokuriku's UPDATE line."""
    for i, row in enumerate(rows[:5]):
        first = row[0].strip() if row else ""
        m = _UPDATE_LINE.match(first)
        if m:
            return _stamp(m.group(1), m.group(2), src)
        if first.startswith(_UPDATE_LABEL) and i + 1 < len(rows) and len(rows[i + 1]) >= 2:
            return _stamp(rows[i + 1][0].strip(), rows[i + 1][1].strip(), src)
    return pd.NaT


def _stamp(day: str, clock: str, src: str) -> pd.Timestamp:
    date = _date(day)
    try:
        parts = [int(x) for x in clock.split(":")]
    except ValueError:
        date = None
    if date is None or not 1 < len(parts) <= 3:
        raise InputError(src, "ファイル更新日/時間", f"{day} {clock}", "not a date and time")
    offset = pd.Timedelta(hours=parts[0], minutes=parts[1],
                          seconds=parts[2] if len(parts) == 3 else 0)
    return (date + offset).tz_convert("UTC")


def _date(text: str) -> pd.Timestamp | None:
    """`20250416`, `2025/04/16` or `2025/4/16` → 00:00 JST of that day; None otherwise."""
    m = re.fullmatch(r"(\d{4})(\d{2})(\d{2})", text) or re.fullmatch(
        r"(\d{4})/(\d{1,2})/(\d{1,2})", text)
    if m is None:
        return None
    try:
        return pd.Timestamp(int(m.group(1)), int(m.group(2)), int(m.group(3)), tz=JST)
    except ValueError:
        return None


def _numbers(cells: list[str]) -> tuple[float, float, float] | None:
    try:
        values = tuple(float(c.replace(",", "")) for c in cells)
    except ValueError:
        return None
    return values if all(np.isfinite(values)) else None  # type: ignore[return-value]

"""Parse Japanese area supply–demand result files (エリア需給実績) into one tidy table.

Handles the legacy per-TSO layouts (hourly, MWh per hour or 万kW) and the unified FY2024+
layout (30-minute MW averages); see `layouts` for header recognition. All `_mw` columns
are slot averages in MW (MWh per hour and MW平均 as they stand, 万kW × 10).

Placeholders: a dash (`－`, `-`, `―`, `ー`) in a curtailment column means "no curtailment
order" and becomes 0 MW; a dash elsewhere means "not applicable" (e.g. Shikoku's 地熱) and
becomes NaN, as does an empty cell. Rows whose values are all empty (real-time files, the
unfilled rest of a fiscal year) and summary rows (`合計（百万kWh）`) are dropped.

Times: `time_jst` is the slot start in Asia/Tokyo, `time_utc` the same instant in UTC.
Files whose time labels run `0:30 … 24:00` (Kyushu's unified file) label the slot END and
are shifted back by one slot. A date written only on a day's first row is carried down.
"""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from forecasts.sources.jp_tso.layouts import (
    AREAS,
    CURTAILMENT_COLUMNS,
    Layout,
    area_from_name,
    find_layout,
)
from inputs.errors import InputError
from inputs.tables import fail_first

TIDY_COLUMNS: tuple[str, ...] = (
    "time_utc", "time_jst", "slot_minutes", "area", "demand_mw", "nuclear_mw", "thermal_mw",
    "lng_mw", "coal_mw", "oil_mw", "other_thermal_mw", "hydro_mw", "geothermal_mw",
    "biomass_mw", "solar_mw", "solar_curtailed_mw", "wind_mw", "wind_curtailed_mw",
    "pumped_storage_mw", "battery_mw", "interconnection_mw",
)
"""Columns of the tidy table, in order. Times are slot starts; `_mw` are slot averages."""

MW_COLUMNS: tuple[str, ...] = TIDY_COLUMNS[4:]
THERMAL_PARTS: tuple[str, ...] = ("lng_mw", "coal_mw", "oil_mw", "other_thermal_mw")
JST = "Asia/Tokyo"

_HEADER_SCAN_LINES = 60
_DASHES = ("－", "-", "―", "ー", "‐", "−")
_TIME_LABEL = r"^(\d{1,2})(?:[:：](\d{2}))?(?::\d{2})?\s*時?$"
_SUMMARY = r"合計|計|平均|最大|最小"


def parse_area_file(source: str | Path | bytes, area: str | None = None,
                    name: str | None = None) -> pd.DataFrame:
    """One area supply–demand CSV (path or raw bytes) → tidy frame in `TIDY_COLUMNS`.

    `name` is the file name used to recognise the area and in error messages when bytes
    are given. `area` is required when the file name does not say the area; when both
    do, they must agree. Raises `InputError` for unreadable files, unrecognised headers,
    bad dates/times/numbers and duplicate slots.
    """
    src, raw = read_source(source, name)
    text = decode(raw, src)
    area = resolve_area(src, area)
    head = list(csv.reader(itertools.islice(io.StringIO(text), _HEADER_SCAN_LINES)))
    layout = find_layout(head, src)
    width = max(len(r) for r in head)
    usecols = [layout.date_col, *([] if layout.time_col is None else [layout.time_col]),
               *layout.columns]
    try:
        df = pd.read_csv(io.StringIO(text), header=None, names=list(range(width)),
                         usecols=usecols, skiprows=layout.data_row, dtype=object,
                         keep_default_na=False, skip_blank_lines=False)
    except (pd.errors.ParserError, ValueError) as exc:
        raise InputError(src, "content", "", f"not a readable CSV ({exc})") from None
    df = df.fillna("")
    df.index = df.index + layout.data_row + 1  # index = 1-based line number in the file
    return _tidy(df, layout, area, src)


def parse_area_files(sources: Sequence[str | Path], area: str | None = None) -> pd.DataFrame:
    """Several files of one area → one tidy frame in time order.

    Files are ordered by their first slot (ties: the given order); a slot found in several
    files keeps the value of the file ordered last. Files of different areas are an error.
    """
    if not sources:
        raise InputError("jp-tso", "files", [], "no files given")
    frames = [(str(s), parse_area_file(s, area=area)) for s in sources]
    first_src, first = frames[0]
    first_area = first["area"].iloc[0]
    for src, df in frames[1:]:
        if df["area"].iloc[0] != first_area:
            raise InputError(src, "area", df["area"].iloc[0],
                             f"differs from {first_src} (area {first_area})")
    ordered = sorted(frames, key=lambda item: item[1]["time_utc"].iloc[0])
    out = pd.concat([df for _, df in ordered], ignore_index=True)
    out = out.drop_duplicates(subset="time_utc", keep="last")
    return out.sort_values("time_utc", kind="stable").reset_index(drop=True)


def write_tidy_csv(df: pd.DataFrame, path: str | Path,
                   columns: Sequence[str] = TIDY_COLUMNS) -> None:
    """Write a tidy frame as CSV: `columns`, times ISO 8601 with offset, NaN/NaT empty."""
    out = df.loc[:, list(columns)].copy()
    for col in out.columns:
        if isinstance(out[col].dtype, pd.DatetimeTZDtype):
            stamped = out[col].dt.strftime("%Y-%m-%dT%H:%M:%S%z")
            out[col] = stamped.str.replace(r"([+-]\d\d)(\d\d)$", r"\1:\2", regex=True)
    out.to_csv(path, index=False, na_rep="", float_format="%.10g")


def read_source(source: str | Path | bytes, name: str | None) -> tuple[str, bytes]:
    """(the name errors use, the raw bytes) of a path or of bytes named `name`."""
    if isinstance(source, bytes):
        return (name or "<bytes>"), source
    path = Path(source)
    src = name or str(path)
    try:
        return src, path.read_bytes()
    except FileNotFoundError:
        raise InputError(src, "path", str(path), "file not found") from None
    except IsADirectoryError:
        raise InputError(src, "path", str(path), "is a directory, not a file") from None


def decode(raw: bytes, src: str) -> str:
    """UTF-8 (with or without BOM) first, then CP932 (Shift_JIS)."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("cp932")
    except UnicodeDecodeError as exc:
        raise InputError(src, "encoding", raw[exc.start:exc.end].hex(),
                         "neither UTF-8 nor CP932 (Shift_JIS)") from None


def resolve_area(src: str, area: str | None) -> str:
    """The area of a file: `area` (checked against the name) or the one its name says."""
    named = area_from_name(src)
    if area is not None:
        area = area.strip().lower()
        if area not in AREAS:
            raise InputError(src, "--area", area, f"unknown area (one of {', '.join(AREAS)})")
        if named is not None and named != area:
            raise InputError(src, "--area", area, f"but the file name says {named}")
        return area
    if named is None:
        raise InputError(src, "area", None,
                         "not recognised from the file name; --area is required")
    return named


def _tidy(df: pd.DataFrame, layout: Layout, area: str, src: str) -> pd.DataFrame:
    names = list(layout.columns.values())
    cells = df[list(layout.columns)]
    values, blank, bad = _numbers(cells.to_numpy(dtype=object), names)
    date = _per_unique(df[layout.date_col], _strip)
    summary = _per_unique(date, lambda u: u.str.contains(_SUMMARY, regex=True))
    keep = ~blank.all(axis=1) & ~summary.to_numpy(dtype=bool)
    if not keep.any():
        raise InputError(src, "rows", 0, "no data rows under the header")
    if bad[keep].any():
        row, col = (int(i[0]) for i in np.nonzero(bad[keep]))
        line = int(df.index[keep][row])
        raise InputError(f"{src} line {line}", names[col], cells.loc[line].iloc[col],
                         "not a number")
    date = date[keep]
    if layout.time_col is None:
        parts = date.str.extract(r"^(\S+)\s+(\S+)$")
        date, clock = parts[0].fillna(date), parts[1].fillna("")
    else:
        clock = _per_unique(df.loc[keep, layout.time_col], _strip)
        date = date.where(date != "").ffill().fillna("")
    time_jst, slot_minutes = _slot_starts(date, clock, src)
    if time_jst.duplicated().any():
        line = int(time_jst.index[time_jst.duplicated()][0])
        raise InputError(f"{src} line {line}", "time", str(time_jst.loc[line]), "duplicate slot")
    mw = dict(zip(names, (values[keep] * layout.mw_per_unit).T, strict=True))
    out = pd.DataFrame({
        "time_utc": time_jst.dt.tz_convert("UTC").array,
        "time_jst": time_jst.array,
        "slot_minutes": np.full(len(date), slot_minutes, dtype=np.int64),
        "area": np.full(len(date), area, dtype=object),
        **{name: mw.get(name, np.full(len(date), np.nan)) for name in MW_COLUMNS},
    })
    parts = [p for p in THERMAL_PARTS if p in mw]
    if "thermal_mw" not in mw and parts:
        out["thermal_mw"] = out[parts].sum(axis=1, min_count=1)
    out["area"] = out["area"].astype(str)
    return out.sort_values("time_utc", kind="stable").reset_index(drop=True)


def _slot_starts(date: pd.Series, clock: pd.Series, src: str) -> tuple[pd.Series, int]:
    """Date and time labels (JST) → tz-aware slot starts and the slot length in minutes."""
    day = _per_unique(date, _parse_dates)
    fail_first(day.isna(), date, src, "date", "not a date (YYYY/M/D or YYYYMMDD)")
    minutes = _per_unique(clock, _parse_clock)
    fail_first(minutes.isna() | (minutes > 24 * 60), clock, src, "time",
                "not a time of day (H:MM or H時)")
    mins = minutes.to_numpy(dtype=np.int64)
    slot_minutes = int(np.gcd.reduce(np.append(mins, 60)))
    if (mins == 24 * 60).any():  # labels mark the END of the slot (0:30 … 24:00)
        fail_first(minutes == 0, clock, src, "time", "0:00 in a file whose slots end at 24:00")
        mins = mins - slot_minutes
    start = day + pd.to_timedelta(mins, unit="min")
    return start.dt.tz_localize(JST), slot_minutes


def _parse_dates(date: pd.Series) -> pd.Series:
    """`2023/4/1`, `2026/03/01`, `2023-04-01` or `20260401` → midnight (naive), else NaT."""
    compact = date.str.fullmatch(r"\d{8}").fillna(False).to_numpy(dtype=bool)
    day = pd.Series(pd.NaT, index=date.index, dtype="datetime64[us]")
    if compact.any():
        day[compact] = pd.to_datetime(date[compact], format="%Y%m%d", errors="coerce")
    if not compact.all():
        slashed = date[~compact].str.replace("-", "/", regex=False)
        day[~compact] = pd.to_datetime(slashed, format="%Y/%m/%d", errors="coerce")
    return day


def _parse_clock(clock: pd.Series) -> pd.Series:
    """`0:00`, `00:30`, `24:00` or `0時` → minutes after midnight (float), else NaN."""
    hm = clock.str.extract(_TIME_LABEL)
    return pd.to_numeric(hm[0], errors="coerce") * 60 + pd.to_numeric(hm[1].fillna("0"))


def _numbers(cells: np.ndarray, names: list[str]) -> tuple[np.ndarray, ...]:
    """Cell text (rows × columns) → floats, and masks of blank cells and non-numbers.

    Converts each distinct text once. A dash is 0 in curtailment columns and NaN
    elsewhere; blank cells are NaN; thousands separators are dropped.
    """
    codes, uniq = pd.factorize(cells.ravel(), sort=False)
    text = pd.Series(uniq, dtype=object).str.strip()
    dash = text.isin(_DASHES).to_numpy(dtype=bool)
    clean = text.where(~dash, "").str.replace(",", "", regex=False)
    vals = pd.to_numeric(clean, errors="coerce").to_numpy(dtype=np.float64)
    blank_u = (clean == "").to_numpy(dtype=bool)
    bad_u = np.isnan(vals) & ~blank_u
    shape = cells.shape
    values = vals[codes].reshape(shape)
    curtailment = np.array([n in CURTAILMENT_COLUMNS for n in names], dtype=bool)
    values[dash[codes].reshape(shape) & curtailment] = 0.0
    blank = (blank_u & ~dash)[codes].reshape(shape)
    return values, blank, bad_u[codes].reshape(shape)


def _strip(cells: pd.Series) -> pd.Series:
    return cells.str.strip()


def _per_unique(text: pd.Series, convert: Callable[[pd.Series], pd.Series]) -> pd.Series:
    """Apply a vectorised conversion to the distinct values only (labels repeat a lot)."""
    codes, uniq = pd.factorize(text, sort=False)
    converted = convert(pd.Series(uniq, dtype=object))
    return pd.Series(converted.to_numpy()[codes], index=text.index)


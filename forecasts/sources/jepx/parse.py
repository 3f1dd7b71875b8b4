"""JEPX day-ahead spot results (`spot_summary_YYYY.csv`) → a tidy price table.

Input: JEPX's "スポット市場取引結果" CSV — CP932 (UTF-8 is accepted too), one header row,
`受渡日` delivery date (`2025/04/01` or `2023/4/1`), `時刻コード` time code 1…48
(1 = 00:00–00:30 JST … 48 = 23:30–24:00), `システムプライス(円/kWh)` and
`エリアプライス<area>(円/kWh)` for the nine interconnected areas (Okinawa has no JEPX
price). Columns are found by their header text, not their position. Fully empty rows (the
re-saved calendar-year files end with thousands of `,,,…` rows) are dropped.

Output (long format, one row per slot and area, sorted by time then area):
`time_utc, time_jst, area, system_price_jpy_per_kwh, price_jpy_per_kwh` — slot starts
tz-aware, prices JPY/kWh. Long rather than wide so it joins the tidy grid table on
(`time_utc`, `area`).
"""

from __future__ import annotations

import io
import unicodedata
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from inputs.errors import InputError
from inputs.tables import fail_first

JST = "Asia/Tokyo"
SLOTS_PER_DAY = 48
SLOT_MINUTES = 30
PRICE_COLUMNS = ("time_utc", "time_jst", "area", "system_price_jpy_per_kwh", "price_jpy_per_kwh")

AREA_NAMES_JA = {
    "北海道": "hokkaido", "東北": "tohoku", "東京": "tokyo", "中部": "chubu", "北陸": "hokuriku",
    "関西": "kansai", "中国": "chugoku", "四国": "shikoku", "九州": "kyushu",
}
"""JEPX's area labels (after `エリアプライス`) → tidy area names."""

_DATE = "受渡日"
_CODE = "時刻コード"
_SYSTEM = "システムプライス"
_AREA_PREFIX = "エリアプライス"


def parse_spot_summary(source: str | Path) -> pd.DataFrame:
    """One JEPX spot summary CSV → long price table (`PRICE_COLUMNS`), JPY/kWh."""
    src = str(source)
    text = _decode(src)
    try:
        raw = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise InputError(src, "content", "", f"not a readable CSV ({exc})") from None
    cols = _columns(src, list(raw.columns))
    raw = raw[raw.apply(lambda c: c.str.strip() != "").any(axis=1)]
    if raw.empty:
        raise InputError(src, "rows", 0, "no price rows under the header")
    line = pd.Series(raw.index.to_numpy() + 2, index=raw.index)  # 1-based line number
    day = pd.to_datetime(raw[cols[_DATE]].str.strip(), format="%Y/%m/%d", errors="coerce")
    fail_first(day.isna(), raw[cols[_DATE]], src, _DATE, "not a date (YYYY/M/D)", line)
    code = pd.to_numeric(raw[cols[_CODE]].str.strip(), errors="coerce")
    bad_code = code.isna() | (code % 1 != 0) | (code < 1) | (code > SLOTS_PER_DAY)
    fail_first(bad_code, raw[cols[_CODE]], src, _CODE, "time code must be 1…48", line)
    start = (day + pd.to_timedelta((code - 1) * SLOT_MINUTES, unit="min")).dt.tz_localize(JST)
    dup = start.duplicated()
    fail_first(dup, raw[cols[_DATE]] + " " + raw[cols[_CODE]], src, "slot",
               "duplicate delivery slot", line)
    system = _prices(raw[cols[_SYSTEM]], line, src, _SYSTEM)
    wide = pd.DataFrame({"time_jst": start, "system_price_jpy_per_kwh": system})
    areas = [a for a in AREA_NAMES_JA.values() if a in cols]
    for area in areas:
        wide[area] = _prices(raw[cols[area]], line, src, f"{_AREA_PREFIX}({area})")
    long = wide.melt(id_vars=["time_jst", "system_price_jpy_per_kwh"], value_vars=areas,
                     var_name="area", value_name="price_jpy_per_kwh")
    long["time_utc"] = long["time_jst"].dt.tz_convert("UTC")
    long = long.sort_values("time_utc", kind="stable")  # melt is area-major: keeps area order
    return long.loc[:, list(PRICE_COLUMNS)].reset_index(drop=True)


def parse_spot_files(sources: Sequence[str | Path]) -> pd.DataFrame:
    """Several spot summary files → one price table; a slot in several files keeps the last."""
    if not sources:
        raise InputError("jepx", "files", [], "no price files given")
    frames = [parse_spot_summary(s) for s in sources]
    out = pd.concat(frames, ignore_index=True)
    out = out.drop_duplicates(subset=["time_utc", "area"], keep="last")
    return out.sort_values("time_utc", kind="stable").reset_index(drop=True)


def area_prices(prices: pd.DataFrame, area: str) -> pd.Series:
    """One area's spot price, JPY/kWh, indexed by slot start (UTC)."""
    part = prices[prices["area"] == area]
    if part.empty:
        have = sorted(prices["area"].unique())
        raise InputError("jepx prices", "area", area, f"no prices for this area (have {have})")
    return pd.Series(part["price_jpy_per_kwh"].to_numpy(),
                     index=pd.DatetimeIndex(part["time_utc"]), name="price_jpy_per_kwh")


def _decode(src: str) -> str:
    try:
        raw = Path(src).read_bytes()
    except FileNotFoundError:
        raise InputError(src, "path", src, "file not found") from None
    except IsADirectoryError:
        raise InputError(src, "path", src, "is a directory, not a file") from None
    for encoding in ("utf-8-sig", "cp932"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise InputError(src, "encoding", "", "neither UTF-8 nor CP932 (Shift_JIS)")


def _columns(src: str, header: list[str]) -> dict[str, str]:
    """Map `_DATE`, `_CODE`, `_SYSTEM` and area names to the file's column labels."""
    found: dict[str, str] = {}
    for label in header:
        text = unicodedata.normalize("NFKC", label).strip()
        base = text.split("(")[0].strip()
        if base in (_DATE, _CODE, _SYSTEM):
            found[base] = label
        elif base.startswith(_AREA_PREFIX):
            name = base[len(_AREA_PREFIX):]
            if name not in AREA_NAMES_JA:
                raise InputError(src, "header", label, "unknown JEPX area")
            found[AREA_NAMES_JA[name]] = label
    missing = [c for c in (_DATE, _CODE, _SYSTEM) if c not in found]
    if missing:
        raise InputError(src, "header", ",".join(header[:6]),
                         f"not a JEPX spot summary (no {', '.join(missing)} column)")
    return found


def _prices(text: pd.Series, line: pd.Series, src: str, field: str) -> np.ndarray:
    vals = pd.to_numeric(text.str.strip().str.replace(",", "", regex=False), errors="coerce")
    fail_first(vals.isna(), text, src, field, "not a price (JPY/kWh)", line)
    return vals.to_numpy(dtype="float64")


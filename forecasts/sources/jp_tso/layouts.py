"""Recognise the header of a Japanese area supply–demand file (エリア需給実績).

Every TSO writes its own header block (title, unit and group rows above the column row,
sub-rows below it). Columns are mapped to tidy names by their *text*, never by position:
labels are NFKC-normalised, upper-cased, stripped of spaces, unit suffixes (`〔MWh〕`,
`(MWh)`, `[MW]`) and brackets, then matched against the rules below. A leaf label that
names no fuel (`実績`, `抑制量`, `制御量`) takes the group label written above it
(Kyushu's `太陽光 / 実績`, Shikoku's spanning `太陽光` over `実績 | 制御量`).

The unit is found in the header text: `MWh` (per hour) and `MW平均` (half-hour average)
are MW slot averages as they stand; `万kW` is 10 MW.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import PurePath

from inputs.errors import InputError

AREAS = ("hokkaido", "tohoku", "tokyo", "chubu", "hokuriku", "kansai", "chugoku", "shikoku",
         "kyushu", "okinawa")
"""Area names in OCCTO's TSO-code order (code 01 = hokkaido … 10 = okinawa)."""

CURTAILMENT_COLUMNS = frozenset({"solar_curtailed_mw", "wind_curtailed_mw"})

_DATE_LABELS = frozenset({"DATE", "月日", "日付", "年月日"})
_TIME_LABELS = frozenset({"TIME", "時刻", "時間"})
_DATETIME_LABELS = frozenset({"DATETIME", "日時"})
_AMBIGUOUS_LEAVES = frozenset(
    {"実績", "発電実績", "抑制", "抑制量", "制御", "制御量", "出力制御量"}
)

_RULES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(pattern)) for name, pattern in (
        ("demand_mw", r"^(エリア)?(総)?(電力)?需要(実績)?$"),
        ("nuclear_mw", r"^原子力$"),
        ("thermal_mw", r"^火力$"),
        ("lng_mw", r"^火力LNG$"),
        ("coal_mw", r"^火力石炭$"),
        ("oil_mw", r"^火力石油$"),
        ("other_thermal_mw", r"^火力その他$"),
        ("hydro_mw", r"^水力$"),
        ("geothermal_mw", r"^地熱$"),
        ("biomass_mw", r"^バイオマス$"),
        ("solar_mw", r"^太陽光(発電)?(実績)?$"),
        ("solar_curtailed_mw", r"^太陽光(発電)?(出力)?(抑制|制御)量?$"),
        ("wind_mw", r"^風力(発電)?(実績)?$"),
        ("wind_curtailed_mw", r"^風力(発電)?(出力)?(抑制|制御)量?$"),
        ("pumped_storage_mw", r"^揚水(等|発電)?$"),
        ("battery_mw", r"^蓄電池$"),
        ("interconnection_mw", r"^連系線(潮流)?$"),
    )
)
# Known columns the tidy table does not carry: other sources, totals, curtailment of
# thermal/biomass plants (unified layout, 22-column variant).
_IGNORED = re.compile(r"^(その他|(供給力)?合計|火力出力制御量|バイオマス出力制御量)$")
_UNIT_IN_LABEL = re.compile(r"[(\[〔【]\s*(?:単位[:：]?)?(?:MWH|MW平均|MW|万KW|KWH)\s*[)\]〕】]")
_BRACKETS = re.compile(r"[()\[\]〔〕【】「」<>]")
_DATE_VALUE = re.compile(r"^\s*(?:\d{4}[/-]\d{1,2}[/-]\d{1,2}|\d{8})(?:\s|$)")

_NAME_RULES: tuple[tuple[re.Pattern[str], str | None], ...] = (
    # unified layout: eria_jukyu_YYYYMM_NN.csv, realtime_jukyu_YYYYMMDD_NN.csv (NN = TSO code)
    (re.compile(r"^(?:eria|area)_jukyu_\d{6}_(\d{2})\.csv$"), None),
    (re.compile(r"^realtime_jukyu_\d{8}_(\d{2})\.csv$"), None),
    (re.compile(r"^area_jyukyu_jisseki_"), "kyushu"),
    (re.compile(r"^sup_dem_results_"), "hokkaido"),
    (re.compile(r"^juyo_.*_tohoku_"), "tohoku"),
    (re.compile(r"^jukyu20\d\d\.csv$"), "shikoku"),
    (re.compile(r"^eria_jyukyu\.csv$"), "chugoku"),
)


@dataclass(frozen=True)
class Layout:
    """Where the data of one file are and what its columns mean.

    Row numbers are 0-based indices into the file's lines; `columns` maps a column index
    to a tidy column name; `mw_per_unit` converts the file's unit to MW (slot average).
    """

    header_row: int
    data_row: int
    date_col: int
    time_col: int | None
    columns: dict[int, str]
    mw_per_unit: float


def normalise_label(text: str) -> str:
    """A header cell as a comparable key: NFKC, upper case, no spaces, units or brackets."""
    key = unicodedata.normalize("NFKC", text).upper()
    key = re.sub(r"[\s_]+", "", key)
    key = _UNIT_IN_LABEL.sub("", key)
    return _BRACKETS.sub("", key)


def area_from_name(name: str) -> str | None:
    """The area a file name says (e.g. `eria_jukyu_202604_09.csv` → kyushu), else None."""
    base = PurePath(name).name.lower()
    for pattern, area in _NAME_RULES:
        m = pattern.match(base)
        if m is None:
            continue
        if area is not None:
            return area
        code = int(m.group(1))
        return AREAS[code - 1] if 1 <= code <= len(AREAS) else None
    tokens = set(re.split(r"[^a-z]+", PurePath(base).stem))
    named = [a for a in AREAS if a in tokens]
    return named[0] if len(named) == 1 else None


def find_layout(rows: list[list[str]], src: str) -> Layout:
    """Recognise the header block among the first rows of a file (cells already split)."""
    data_row = next((i for i, r in enumerate(rows) if r and _DATE_VALUE.match(r[0])), None)
    header_row = next((i for i, r in enumerate(rows[:data_row])
                       if r and normalise_label(r[0]) in _DATE_LABELS | _DATETIME_LABELS),
                      None)
    if header_row is None:
        line = data_row if data_row else 1
        text = ",".join(rows[line - 1]) if rows else ""
        why = "no DATE/DATE_TIME column" + (" and no data rows" if data_row is None else "")
        raise InputError(f"{src} line {line}", "header", text, f"not recognised ({why})")
    if data_row is None:
        raise InputError(src, "rows", 0, "no data rows under the header")

    def fail(problem: str) -> InputError:
        text = ",".join(rows[header_row]).rstrip(",")
        return InputError(f"{src} line {header_row + 1}", "header", text,
                          f"not recognised ({problem})")

    block = rows[header_row:data_row]
    width = max(len(r) for r in block)
    columns: dict[int, str] = {}
    time_col: int | None = None
    first = normalise_label(rows[header_row][0])
    for col in range(1, width):
        label = _column_label(rows, header_row, data_row, col)
        if not label or _IGNORED.match(label):
            continue
        if label in _TIME_LABELS:
            time_col = col
            continue
        name = next((n for n, rule in _RULES if rule.match(label)), None)
        if name is None:
            raise fail(f"unknown column {label!r}")
        if name in columns.values():
            raise fail(f"two columns map to {name}")
        columns[col] = name
    if first in _DATE_LABELS and time_col is None:
        raise fail("no TIME column")
    if "demand_mw" not in columns.values():
        raise fail("no demand column")
    unit = _unit_factor(rows[:data_row])
    if unit is None:
        raise fail("no unit (MWh, MW平均 or 万kW) in the header")
    return Layout(header_row, data_row, 0, time_col, columns, unit)


def _column_label(rows: list[list[str]], header_row: int, data_row: int, col: int) -> str:
    """The normalised label of one column: its lowest non-empty header cell, prefixed by
    the group label above it when that cell names no fuel."""
    stack = [normalise_label(r[col]) if col < len(r) else "" for r in rows[:data_row]]
    leaf_row = next((i for i in range(data_row - 1, header_row - 1, -1) if stack[i]), None)
    if leaf_row is None:
        return ""
    leaf = stack[leaf_row]
    if leaf not in _AMBIGUOUS_LEAVES:
        return leaf
    for i in range(leaf_row - 1, max(header_row - 2, -1), -1):
        row = rows[i]
        for c in range(min(col, len(row) - 1), 0, -1):
            group = normalise_label(row[c])
            if group:
                return group + leaf
    return leaf


def _unit_factor(header_rows: list[list[str]]) -> float | None:
    """MW per file unit from the header text: 万kW → 10, MWh/MW → 1, else None."""
    text = unicodedata.normalize("NFKC", " ".join(",".join(r) for r in header_rows)).upper()
    if "万KW" in text:
        return 10.0
    if "MWH" in text or "MW平均" in text or "[MW]" in text:
        return 1.0
    return None

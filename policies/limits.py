"""`PowerLimit`: a bound on a site's facility kW in a time window (a DR event, maintenance),
and the reader of `limits.csv`: `site, start, end, max_facility_kw[, min_facility_kw]`."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from inputs.errors import InputError
from inputs.tables import parse_times, read_string_csv

COLUMNS = ("site", "start", "end", "max_facility_kw")


@dataclass(frozen=True)
class PowerLimit:
    """In every slot overlapping [start, end) the site's facility kW (IT kW × PUE) stays at
    most `max_facility_kw` (hard, for all work that can move) and at least `min_facility_kw`
    (an up-DR commitment: soft, penalised per kWh short)."""

    site: str
    start: datetime
    """Window start, tz-aware UTC."""
    end: datetime
    """Window end (exclusive), tz-aware UTC."""
    max_facility_kw: float = math.inf
    """Upper bound on facility kW; inf = none."""
    min_facility_kw: float = 0.0
    """Lower bound on facility kW (soft); 0 = none."""


def _kw(src: str, df: pd.DataFrame, col: str, empty: float) -> np.ndarray:
    text = df[col].str.strip()
    vals = pd.to_numeric(text.replace("", str(empty)), errors="coerce").to_numpy(dtype=float)
    bad = np.isnan(vals) | (vals < 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(f"{src} row {i + 2}", col, df[col].iloc[i], "must be a number ≥ 0")
    return vals


def read_limits_csv(path: str | Path) -> list[PowerLimit]:
    """Read limits.csv (times ISO 8601 with offset; an empty max means none)."""
    src = str(path)
    df = read_string_csv(path)
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise InputError(src, "columns", list(df.columns), f"missing {', '.join(missing)}")
    if "min_facility_kw" not in df.columns:
        df["min_facility_kw"] = ""
    start = parse_times(src, "start", df["start"])
    end = parse_times(src, "end", df["end"])
    early = (end <= start).to_numpy()
    if early.any():
        i = int(np.flatnonzero(early)[0])
        raise InputError(f"{src} row {i + 2}", "end", df["end"].iloc[i],
                         f"is not after start {df['start'].iloc[i]}")
    hi = _kw(src, df, "max_facility_kw", math.inf)
    lo = _kw(src, df, "min_facility_kw", 0.0)
    crossed = lo > hi
    if crossed.any():
        i = int(np.flatnonzero(crossed)[0])
        raise InputError(f"{src} row {i + 2}", "min_facility_kw", df["min_facility_kw"].iloc[i],
                         f"is above max_facility_kw {df['max_facility_kw'].iloc[i]}")
    sites = df["site"].str.strip()
    if (sites == "").any():
        i = int(np.flatnonzero((sites == "").to_numpy())[0])
        raise InputError(f"{src} row {i + 2}", "site", "", "must not be empty")
    return [PowerLimit(sites.iloc[i], start.iloc[i].to_pydatetime(), end.iloc[i].to_pydatetime(),
                       float(hi[i]), float(lo[i])) for i in range(len(df))]

"""The "High 4 of 5" similar-day baseline of Japanese DR programmes (ERAB guideline), and
the metered history it reads.

For an event on day D over [start, end): the 5 most recent days before D of the same kind
(weekday, or weekend/holiday) with complete readings for the window and no DR event of
their own; of those, the 4 with the highest mean kW over the window; the baseline of each
event slot is the mean of those 4 days at the same time of day (JST). Fewer than 5 such
days in the history: no baseline (None) — never a made-up one.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from forecasts.synthetic.grid import is_off_day
from inputs.errors import InputError
from inputs.tables import parse_times, read_string_csv

JST = "Asia/Tokyo"
SIMILAR_DAYS = 5
TOP_DAYS = 4
LOOKBACK_DAYS = 30
"""How far back similar days are searched."""


def high_4_of_5(meter_kw: pd.Series, start: pd.Timestamp, end: pd.Timestamp,
                event_days: Iterable[pd.Timestamp] = ()) -> pd.Series | None:
    """Baseline kW per slot of [start, end) from `meter_kw` (index: tz-aware slot starts,
    regular slots) — or None when fewer than 5 similar days have complete readings."""
    if meter_kw.index.tz is None:
        raise InputError("meter", "time", str(meter_kw.index[:1]), "must be tz-aware")
    series = meter_kw.sort_index()
    step = pd.Series(series.index).diff().min()
    window = pd.date_range(start, end, freq=step, inclusive="left")
    if window.empty:
        return None
    day0 = start.tz_convert(JST).normalize()
    skip = {pd.Timestamp(d).tz_convert(JST).normalize() for d in event_days}
    off = bool(is_off_day(pd.DatetimeIndex([start.tz_convert(JST)]))[0])
    chosen: list[np.ndarray] = []
    for back in range(1, LOOKBACK_DAYS + 1):
        day = day0 - pd.Timedelta(days=back)
        if day in skip or bool(is_off_day(pd.DatetimeIndex([day]))[0]) != off:
            continue
        shifted = window - pd.Timedelta(days=back)
        values = series.reindex(shifted).to_numpy(dtype=float)
        if np.isnan(values).any():
            continue
        chosen.append(values)
        if len(chosen) == SIMILAR_DAYS:
            break
    if len(chosen) < SIMILAR_DAYS:
        return None
    top = sorted(chosen, key=lambda v: float(v.mean()), reverse=True)[:TOP_DAYS]
    return pd.Series(np.mean(top, axis=0), index=window, name="baseline_kw")


def read_meter_csv(path: str | Path) -> dict[str, pd.Series]:
    """Metered facility kW: `site, time, kw` (times ISO 8601 with offset) → per site a
    series indexed by slot start (UTC)."""
    src = str(path)
    df = read_string_csv(path)
    missing = [c for c in ("site", "time", "kw") if c not in df.columns]
    if missing:
        raise InputError(src, "columns", list(df.columns), f"missing {', '.join(missing)}")
    df["time"] = parse_times(src, "time", df["time"])
    kw = pd.to_numeric(df["kw"], errors="coerce")
    if kw.isna().any() or (kw < 0).any():
        i = int(np.flatnonzero((kw.isna() | (kw < 0)).to_numpy())[0])
        raise InputError(f"{src} row {i + 2}", "kw", df["kw"].iloc[i], "must be a number ≥ 0")
    df["kw"] = kw
    return {str(site): part.set_index(pd.DatetimeIndex(part["time"]))["kw"].sort_index()
            for site, part in df.groupby("site")}

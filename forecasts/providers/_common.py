"""Helpers shared by the provider modules: schema checks, UTC times, the slot grid.

Resampling onto the forecast's slot grid (15, 30 or 60 min) is written once here:
- a source period shorter than the slot (WattTime's 5-minute points) → the slot value is
  the **mean** of the points whose start falls inside the slot;
- a source period longer than the slot (hourly Electricity Maps points on a 30-min grid)
  → each point's value is repeated over the slots its period covers (it is a period
  average, so every sub-slot carries it);
- a slot with no data is never invented: it raises `ProviderDataError` naming the slot.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from forecasts.forecast import ALLOWED_SLOT_MINUTES, Forecast
from forecasts.providers.http import ProviderDataError
from inputs.errors import InputError
from inputs.tables import parse_iso_utc


def require(provider: str, obj: Any, key: str, path: str, kind: type | tuple[type, ...] = object,
            url: str = "") -> Any:
    """`obj[key]`, checked to be a `kind`; otherwise a `ProviderDataError` naming `path.key`."""
    name = f"{path}.{key}" if path else key
    if not isinstance(obj, dict):
        raise ProviderDataError(provider, path or "<body>", f"expected an object, got "
                                f"{type(obj).__name__}", url)
    if key not in obj:
        raise ProviderDataError(provider, name, "missing", url)
    value = obj[key]
    if not isinstance(value, kind):
        raise ProviderDataError(provider, name, f"expected {_kind_name(kind)}, got "
                                f"{type(value).__name__} {value!r:.60}", url)
    return value


def _kind_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(k.__name__ for k in kinds)


def records(provider: str, items: Any, path: str, time_key: str, value_key: str,
            url: str = "") -> pd.DataFrame:
    """A JSON list of `{time_key, value_key, …}` → frame `time` (UTC), `value` (float).

    Null values are kept as NaN (the caller decides); a non-numeric value or a bad time
    raises `ProviderDataError` naming `path[i].key`.
    """
    if not isinstance(items, list):
        raise ProviderDataError(provider, path, f"expected a list, got {type(items).__name__}",
                                url)
    if not items:
        raise ProviderDataError(provider, path, "empty list: no data points", url)
    for i, item in enumerate(items):
        for key in (time_key, value_key):
            require(provider, item, key, f"{path}[{i}]", url=url)
    times = utc_times(provider, [it[time_key] for it in items], f"{path}[].{time_key}", url)
    raw = pd.Series([it[value_key] for it in items], dtype=object)
    values = pd.to_numeric(raw, errors="coerce")
    bad = values.isna() & raw.notna()
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise ProviderDataError(provider, f"{path}[{i}].{value_key}",
                                f"not a number: {raw.iloc[i]!r}", url)
    return pd.DataFrame({"time": times, "value": values.to_numpy(dtype=float)})


def utc_times(provider: str, values: Sequence[Any], field: str, url: str = "") -> pd.DatetimeIndex:
    """ISO 8601 strings with a UTC offset (`Z`, `+00:00`, `-04:00`) → tz-aware UTC index."""
    parsed, i, why = parse_iso_utc(pd.Series(values, dtype=object))
    if i is not None:
        raise ProviderDataError(provider, field.replace("[]", f"[{i}]"),
                                f"{why}: {values[i]!r}", url)
    return pd.DatetimeIndex(parsed)


def infer_period_s(times: pd.DatetimeIndex, default_s: int) -> int:
    """Source period in seconds: the smallest positive gap between sorted points."""
    if len(times) < 2:
        return default_s
    gaps = np.diff(np.sort(times.to_numpy())).astype("timedelta64[s]").astype(np.int64)
    gaps = gaps[gaps > 0]
    return int(gaps.min()) if len(gaps) else default_s


def to_slot_grid(provider: str, frame: pd.DataFrame, slot_minutes: int, period_s: int,
                 field: str) -> tuple[pd.DatetimeIndex, np.ndarray]:
    """Resample `time`/`value` points onto a uniform UTC slot grid (see module docstring)."""
    if slot_minutes not in ALLOWED_SLOT_MINUTES:
        raise ValueError(f"slot_minutes={slot_minutes}: must be one of {ALLOWED_SLOT_MINUTES}")
    slot_s = slot_minutes * 60
    df = frame.dropna(subset=["value"])
    if df.empty:
        raise ProviderDataError(provider, field, "every value is null")
    times = pd.DatetimeIndex(df["time"])
    values = df["value"].to_numpy(dtype=float)
    if period_s > slot_s:
        if period_s % slot_s:
            raise ProviderDataError(provider, field, f"period {period_s} s is not a multiple "
                                    f"of the {slot_minutes}-min slot")
        reps = period_s // slot_s
        offsets = pd.to_timedelta(np.tile(np.arange(reps) * slot_s, len(times)), unit="s")
        times = times.repeat(reps) + offsets
        values = np.repeat(values, reps)
    slots = times.floor(f"{slot_minutes}min")
    means = pd.Series(values, index=slots).groupby(level=0).mean().sort_index()
    grid = pd.date_range(means.index[0], means.index[-1], freq=f"{slot_minutes}min", tz="UTC")
    full = means.reindex(grid)
    missing = full.isna().to_numpy()
    if missing.any():
        gap = grid[int(np.flatnonzero(missing)[0])]
        raise ProviderDataError(provider, field, f"no data for the slot starting "
                                f"{gap.isoformat()} ({int(missing.sum())} slot(s) missing)")
    return pd.DatetimeIndex(grid), full.to_numpy(dtype=float)


def check_window(start: datetime | None, end: datetime | None) -> None:
    """`start`/`end` must be tz-aware and ordered; bad input raises `InputError`."""
    for name, value in (("start", start), ("end", end)):
        if value is not None and value.tzinfo is None:
            raise InputError("fetch", name, value.isoformat(), "must be tz-aware (UTC inside)")
    if start is not None and end is not None and end <= start:
        raise InputError("fetch", "end", end.isoformat(), f"must be after start {start}")


def clip(fc: Forecast, start: datetime | None, end: datetime | None) -> Forecast:
    """The slots of `fc` that overlap `[start, end)`; raises `InputError` if none do."""
    if start is None and end is None:
        return fc
    idx = fc.slot_starts
    keep = np.ones(len(idx), dtype=bool)
    if start is not None:
        # a slot that started before `start` but is still running is kept
        keep &= (idx + pd.Timedelta(minutes=fc.slot_minutes)) > pd.Timestamp(start)
    if end is not None:
        keep &= idx < pd.Timestamp(end)
    if not keep.any():
        raise InputError(fc.source, "window", f"{start} – {end}",
                         f"no slot of {fc.region} overlaps it ({idx[0]} – {fc.end})")
    if keep.all():
        return fc
    return fc.select(keep)


def iso_z(when: datetime) -> str:
    """UTC ISO 8601 to the minute with a `Z` suffix (`2018-01-20T12:00Z`)."""
    return str(pd.Timestamp(when).tz_convert("UTC").strftime("%Y-%m-%dT%H:%MZ"))

"""Planner signals from a tidy grid table (and optional JEPX prices) → the core's `Forecast`.

`carbon_gco2_per_kwh` is the average intensity of the mix (or the marginal proxy when
`intensity="marginal"`), `marginal_gco2_per_kwh` the marginal proxy (`intensity`),
`curtailment_mw` = solar + wind curtailment (empty = 0), `price_jpy_per_kwh` the area's
JEPX spot price, averaged over the slot when the grid data are hourly.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from forecasts.carbon.emission_factors import EmissionFactors, default_factors
from forecasts.carbon.intensity import MIN_THERMAL_SHARE, average_intensity, marginal_intensity
from forecasts.forecast import Forecast, slot_seconds
from forecasts.sources.jepx.parse import SLOT_MINUTES as PRICE_SLOT_MINUTES
from forecasts.sources.jepx.parse import area_prices
from forecasts.sources.jp_tso.parse import TIDY_COLUMNS
from inputs.errors import InputError
from inputs.tables import parse_times, read_string_csv

INTENSITIES = ("average", "marginal")
_TEXT_COLUMNS = ("time_utc", "time_jst", "area")


def signals_from_tidy(tidy: pd.DataFrame, area: str, prices: pd.DataFrame | None = None,
                      factors: EmissionFactors | None = None,
                      intensity: str = "average",
                      min_thermal_share: float = MIN_THERMAL_SHARE,
                      source: str = "jp-tso") -> Forecast:
    """One area of a tidy table → `Forecast` (gCO2/kWh, MW, JPY/kWh per slot).

    `prices` is a JEPX table from `forecasts.sources.jepx.parse`; it must cover every slot. Raises
    `InputError` for a missing area, mixed slot lengths, gaps, slots without generation
    data and uncovered prices.
    """
    if intensity not in INTENSITIES:
        raise InputError("signals", "intensity", intensity, f"must be one of {INTENSITIES}")
    factors = factors or default_factors()
    part = _area_rows(tidy, area)
    times = pd.DatetimeIndex(part["time_utc"]).tz_convert("UTC")
    slot_minutes = _slot_minutes(part, times, area)
    average = average_intensity(part, factors).to_numpy()
    marginal = marginal_intensity(part, factors, min_thermal_share).to_numpy()
    if np.isnan(average).any():
        first = times[int(np.flatnonzero(np.isnan(average))[0])]
        raise InputError(f"tidy table (area {area})", "time_utc", first.isoformat(),
                         "slot has no generation data")
    curtailed = part.reindex(columns=["solar_curtailed_mw", "wind_curtailed_mw"])
    curtailment = curtailed.astype("float64").fillna(0.0).clip(lower=0.0).sum(axis=1)
    price = None if prices is None else _slot_prices(prices, area, times, slot_minutes)
    return Forecast(
        region=area,
        slot_starts=times,
        slot_minutes=slot_minutes,
        carbon_gco2_per_kwh=average if intensity == "average" else marginal,
        curtailment_mw=curtailment.to_numpy(),
        marginal_gco2_per_kwh=marginal,
        price_jpy_per_kwh=price,
        source=source,
    )


def read_tidy_csv(path: str | Path) -> pd.DataFrame:
    """Read a tidy CSV written by `wattbit forecast import` (times → tz-aware, MW → float)."""
    src = str(path)
    df = read_string_csv(path)
    missing = [c for c in TIDY_COLUMNS if c not in df.columns]
    if missing:
        raise InputError(src, "columns", list(df.columns)[:6], f"missing {', '.join(missing)}")
    if df.empty:
        raise InputError(src, "rows", 0, "no rows")
    df["time_utc"] = parse_times(src, "time_utc", df["time_utc"])
    df["time_jst"] = parse_times(src, "time_jst", df["time_jst"]).dt.tz_convert("Asia/Tokyo")
    for col in TIDY_COLUMNS:
        if col in _TEXT_COLUMNS:
            continue
        vals = pd.to_numeric(df[col].str.strip().replace("", np.nan), errors="coerce")
        bad = vals.isna() & (df[col].str.strip() != "")
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise InputError(f"{src} row {i + 2}", col, df[col].iloc[i], "not a number")
        df[col] = vals.astype("float64")
    df["slot_minutes"] = _whole_minutes(src, df["slot_minutes"])
    return df.loc[:, list(TIDY_COLUMNS)]


def _area_rows(tidy: pd.DataFrame, area: str) -> pd.DataFrame:
    for col in ("time_utc", "area", "slot_minutes"):
        if col not in tidy.columns:
            raise InputError("tidy table", "columns", list(tidy.columns)[:6], f"missing {col}")
    part = tidy[tidy["area"] == area]
    if part.empty:
        have = sorted(map(str, tidy["area"].unique()))
        raise InputError("tidy table", "area", area, f"no rows for this area (have {have})")
    part = part.sort_values("time_utc", kind="stable").reset_index(drop=True)
    dup = part["time_utc"].duplicated()
    if dup.any():
        raise InputError(f"tidy table (area {area})", "time_utc",
                         str(part.loc[dup, "time_utc"].iloc[0]), "duplicate slot")
    return part


def _slot_minutes(part: pd.DataFrame, times: pd.DatetimeIndex, area: str) -> int:
    lengths = sorted(set(part["slot_minutes"].astype(int)))
    src = f"tidy table (area {area})"
    if len(lengths) != 1:
        raise InputError(src, "slot_minutes", lengths, "mixed slot lengths in one area")
    slot = lengths[0]
    step = slot_seconds(times) // 60
    if (step != slot).any():
        i = int(np.flatnonzero(step != slot)[0])
        raise InputError(src, "time_utc", times[i + 1].isoformat(),
                         f"gap or overlap after {times[i].isoformat()} (slots are {slot} min)")
    return slot


def _slot_prices(prices: pd.DataFrame, area: str, times: pd.DatetimeIndex,
                 slot_minutes: int) -> np.ndarray:
    """The area's JEPX price per slot, JPY/kWh (mean of the half-hours in longer slots)."""
    series = area_prices(prices, area)
    if slot_minutes < PRICE_SLOT_MINUTES:
        per_slot = series.reindex(times.floor(f"{PRICE_SLOT_MINUTES}min"))
    else:
        grouped = series.groupby(series.index.floor(f"{slot_minutes}min"))
        stats = grouped.agg(["mean", "count"])
        full = stats["count"] == slot_minutes // PRICE_SLOT_MINUTES
        per_slot = stats["mean"].where(full).reindex(times)
    values = per_slot.to_numpy(dtype="float64")
    if np.isnan(values).any():
        first = times[int(np.flatnonzero(np.isnan(values))[0])]
        span = f"{series.index.min().isoformat()} … {series.index.max().isoformat()}"
        raise InputError(f"jepx prices (area {area})", "time_utc", first.isoformat(),
                         f"no price for this slot (prices cover {span})")
    return values


def _whole_minutes(src: str, values: pd.Series) -> pd.Series:
    bad = values.isna() | (values % 1 != 0)
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(f"{src} row {i + 2}", "slot_minutes", values.iloc[i],
                         "must be a whole number of minutes")
    return values.astype("int64")

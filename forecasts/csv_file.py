"""Read and write `forecast.csv`, the core's forecast format.

Columns: `region, time, carbon_gco2_per_kwh, curtailment_mw` and optional
`marginal_gco2_per_kwh, price_jpy_per_kwh, temperature_c` and quantile columns
(`<signal>_p10` …). `time` is the slot start, ISO 8601 with offset. The slot length is
inferred per region and must be uniform (15, 30 or 60 minutes).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from forecasts.forecast import ALLOWED_SLOT_MINUTES, Forecast, slot_seconds
from inputs.errors import InputError
from inputs.tables import parse_times, read_string_csv

REQUIRED = ("region", "time", "carbon_gco2_per_kwh", "curtailment_mw")
OPTIONAL = ("marginal_gco2_per_kwh", "price_jpy_per_kwh", "temperature_c")
QUANTILE = re.compile(r"^(carbon_gco2_per_kwh|curtailment_mw|price_jpy_per_kwh)_p\d{1,2}$")
NON_NEGATIVE = ("carbon_gco2_per_kwh", "curtailment_mw", "marginal_gco2_per_kwh")


def read_forecast_csv(path: str | Path) -> dict[str, Forecast]:
    """Read forecast.csv into one `Forecast` per region (keys are region names)."""
    src = str(path)
    df = read_string_csv(path)
    missing = [c for c in REQUIRED if c not in df.columns]
    if missing:
        raise InputError(src, "columns", list(df.columns), f"missing {', '.join(missing)}")
    if df.empty:
        raise InputError(src, "rows", 0, "no forecast rows")
    df["time"] = parse_times(src, "time", df["time"])
    numeric = [c for c in df.columns if c in REQUIRED[2:] + OPTIONAL or QUANTILE.match(c)]
    for col in numeric:
        vals = pd.to_numeric(df[col].replace("", np.nan), errors="coerce")
        bad = vals.isna() & (df[col] != "") if col not in REQUIRED else vals.isna()
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise InputError(f"{src} row {i + 2}", col, df[col].iloc[i], "not a number")
        if col in NON_NEGATIVE and (vals < 0).any():
            i = int(np.flatnonzero((vals < 0).to_numpy())[0])
            raise InputError(f"{src} row {i + 2}", col, df[col].iloc[i], "must be ≥ 0")
        df[col] = vals
    out: dict[str, Forecast] = {}
    for region, part in df.groupby("region", sort=True):
        out[str(region)] = region_forecast(src, str(region), part, numeric)
    return out


def region_forecast(src: str, region: str, part: pd.DataFrame, numeric: list[str]) -> Forecast:
    """One region's rows (columns of forecast.csv, `time` parsed) → a checked `Forecast`."""
    if not region:
        raise InputError(src, "region", region, "empty region name")
    part = part.sort_values("time")
    times = pd.DatetimeIndex(part["time"])
    if times.has_duplicates:
        dup = times[times.duplicated()][0]
        raise InputError(src, f"time (region {region})", dup.isoformat(), "duplicate slot")
    if len(times) < 2:
        raise InputError(src, f"region {region}", len(times), "needs ≥ 2 slots to infer length")
    gaps_min = slot_seconds(times) // 60
    steps_min = np.unique(gaps_min)
    if len(steps_min) != 1:
        step = int(steps_min.min())
        if (steps_min % step == 0).all():  # a hole in a uniform grid: name it
            i = int(np.flatnonzero(gaps_min > step)[0])
            missing = times[i] + pd.Timedelta(minutes=step)
            raise InputError(src, f"time (region {region})", missing.isoformat(),
                             f"missing slot(s): nothing from {missing.isoformat()} until "
                             f"{times[i + 1].isoformat()} ({step}-minute slots)")
        raise InputError(src, f"time (region {region})", sorted(steps_min.tolist()),
                         "slots are not uniform (all gaps must be equal)")
    slot_minutes = int(steps_min[0])
    if slot_minutes not in ALLOWED_SLOT_MINUTES:
        raise InputError(src, f"time (region {region})", f"{slot_minutes} min",
                         "slot length must be 15, 30 or 60 minutes")
    cols = {c: part[c].to_numpy(dtype=float) for c in numeric}
    optional = {c: cols[c] for c in OPTIONAL if c in cols and not np.isnan(cols[c]).all()}
    for c, arr in optional.items():
        if np.isnan(arr).any():
            i = int(np.flatnonzero(np.isnan(arr))[0])
            raise InputError(src, f"{c} (region {region})", "", f"empty at {times[i]}")
    return Forecast(
        region=region,
        slot_starts=times,
        slot_minutes=slot_minutes,
        carbon_gco2_per_kwh=cols["carbon_gco2_per_kwh"],
        curtailment_mw=cols["curtailment_mw"],
        quantiles={c: cols[c] for c in numeric if QUANTILE.match(c)},
        source=f"file:{src}",
        **optional,
    )


def forecast_frame(forecasts: dict[str, Forecast] | list[Forecast]) -> pd.DataFrame:
    """Forecasts as one table in forecast.csv's columns (times as UTC timestamps)."""
    items = forecasts.values() if isinstance(forecasts, dict) else forecasts
    frames = []
    for fc in items:
        cols: dict[str, object] = {
            "region": fc.region,
            "time": fc.slot_starts,
            "carbon_gco2_per_kwh": fc.carbon_gco2_per_kwh,
            "curtailment_mw": fc.curtailment_mw,
        }
        for c in OPTIONAL:
            if getattr(fc, c) is not None:
                cols[c] = getattr(fc, c)
        cols.update(fc.quantiles)
        frames.append(pd.DataFrame(cols))
    return pd.concat(frames, ignore_index=True)


def write_forecast_csv(forecasts: dict[str, Forecast] | list[Forecast], path: str | Path) -> None:
    """Write forecasts as forecast.csv (times ISO 8601 with `+00:00`)."""
    df = forecast_frame(forecasts)
    df["time"] = df["time"].map(lambda t: t.isoformat())
    df.to_csv(path, index=False, float_format="%.6g")

"""Read Electricity Maps' hourly CSV exports (data portal: `<ZONE>_<year>_hourly.csv`).

Columns used: `Datetime (UTC)` (slot start) and `Carbon Intensity gCO₂eq/kWh (direct)`
(average intensity of consumption, direct emissions, gCO2/kWh). The files hold no
curtailment: `curtailment_mw` is NaN (unknown), never 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from forecasts.forecast import Forecast
from inputs.errors import InputError
from inputs.tables import read_string_csv

TIME_COLUMN = "Datetime (UTC)"
CARBON_COLUMN = "Carbon Intensity gCO₂eq/kWh (direct)"


def read_electricitymaps_csv(paths: Sequence[str | Path], region: str) -> Forecast:
    """One or more hourly exports of one zone (e.g. a file per year) → `Forecast` for
    `region` (carbon gCO2/kWh; curtailment unknown = NaN). Gaps and duplicates are errors."""
    parts = []
    for path in paths:
        src = str(path)
        df = read_string_csv(path)
        for col in (TIME_COLUMN, CARBON_COLUMN):
            if col not in df.columns:
                raise InputError(src, "columns", list(df.columns)[:4], f"missing {col!r}")
        times = pd.to_datetime(df[TIME_COLUMN], format="%Y-%m-%d %H:%M:%S", errors="coerce",
                               utc=True)
        carbon = pd.to_numeric(df[CARBON_COLUMN], errors="coerce")
        for name, bad in ((TIME_COLUMN, times.isna()), (CARBON_COLUMN, carbon.isna())):
            if bad.any():
                i = int(np.flatnonzero(bad.to_numpy())[0])
                raise InputError(f"{src} row {i + 2}", name, df[name].iloc[i],
                                 "not a time" if name == TIME_COLUMN else "not a number")
        parts.append(pd.Series(carbon.to_numpy(), index=pd.DatetimeIndex(times)))
    if not parts:
        raise InputError("electricitymaps csv", "paths", [], "no file given")
    series = pd.concat(parts).sort_index()
    if series.index.has_duplicates:
        dup = series.index[series.index.duplicated()][0]
        raise InputError("electricitymaps csv", TIME_COLUMN, dup.isoformat(), "duplicate hour")
    full = pd.date_range(series.index[0], series.index[-1], freq="60min")
    if len(full) != len(series):
        gap = full.difference(series.index)[0]
        raise InputError("electricitymaps csv", TIME_COLUMN, gap.isoformat(), "missing hour")
    return Forecast(region=region, slot_starts=pd.DatetimeIndex(series.index), slot_minutes=60,
                    carbon_gco2_per_kwh=series.to_numpy(dtype=float),
                    curtailment_mw=np.full(len(series), np.nan), source="electricitymaps-csv")

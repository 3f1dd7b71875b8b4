"""Forecasts from a local file: the core's `forecast.csv`, or Parquet with the same columns.

Parquet columns are those of forecast.csv (`region, time, carbon_gco2_per_kwh,
curtailment_mw`, optional `marginal_gco2_per_kwh, price_jpy_per_kwh, temperature_c` and
`<signal>_pNN` quantiles); `time` may be a tz-aware timestamp column or ISO 8601 strings
with an offset. Both go through the CSV reader's per-region checks (uniform 15/30/60-min
slots, no duplicates), so a file is valid as Parquet exactly when it is valid as CSV;
Parquet errors name the 0-based row.
The file is re-read on every `fetch` (it may be rewritten by another process).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow

from forecasts.csv_file import (
    NON_NEGATIVE,
    OPTIONAL,
    QUANTILE,
    REQUIRED,
    read_forecast_csv,
    region_forecast,
)
from forecasts.forecast import Forecast
from forecasts.providers._common import check_window, clip
from inputs.errors import InputError
from inputs.tables import parse_times

NAME = "file"


@dataclass(frozen=True)
class FileConfig:
    """Path of a forecast.csv or .parquet file."""

    path: Path


class FileProvider:
    """`fetch(region, start, end)` → that region's forecast from the file."""

    name = NAME

    def __init__(self, config: FileConfig) -> None:
        self.config = config

    def read(self) -> dict[str, Forecast]:
        """Every region of the file, keyed by region name."""
        path = Path(self.config.path)
        if path.suffix.lower() in (".parquet", ".pq"):
            return read_forecast_parquet(path)
        return read_forecast_csv(path)

    def fetch(self, region: str, start: datetime | None = None,
              end: datetime | None = None) -> Forecast:
        """The file's forecast for `region`, clipped to `[start, end)`."""
        check_window(start, end)
        forecasts = self.read()
        if region not in forecasts:
            raise InputError(str(self.config.path), "region", region,
                             f"not in the file (has {', '.join(sorted(forecasts))})")
        return clip(forecasts[region], start, end)


def read_forecast_parquet(path: str | Path) -> dict[str, Forecast]:
    """A Parquet file in forecast.csv's columns → one `Forecast` per region."""
    src = str(path)
    try:
        df = pd.read_parquet(path)
    except FileNotFoundError:
        raise InputError(src, "path", src, "file not found") from None
    except (pyarrow.ArrowException, OSError) as exc:
        raise InputError(src, "content", "", f"not a readable Parquet file ({exc})") from None
    missing = [c for c in REQUIRED if c not in df.columns]
    if missing:
        raise InputError(src, "columns", list(df.columns), f"missing {', '.join(missing)}")
    if df.empty:
        raise InputError(src, "rows", 0, "no forecast rows")
    df = df.reset_index(drop=True)
    if isinstance(df["time"].dtype, pd.DatetimeTZDtype):
        df["time"] = df["time"].dt.tz_convert("UTC")
    elif pd.api.types.is_datetime64_any_dtype(df["time"]):
        raise InputError(src, "time", str(df["time"].iloc[0]), "has no UTC offset")
    else:
        df["time"] = parse_times(src, "time", df["time"].astype("string"), row_offset=0)
    df["region"] = df["region"].astype("string").fillna("")
    numeric = [c for c in df.columns if c in REQUIRED[2:] + OPTIONAL or QUANTILE.match(c)]
    for col in numeric:
        vals = pd.to_numeric(df[col], errors="coerce").astype(float)
        bad = vals.isna() & df[col].notna()
        if col in REQUIRED:
            bad |= vals.isna()
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise InputError(f"{src} row {i}", col, _plain(df[col].iloc[i]), "not a number")
        if col in NON_NEGATIVE and (vals < 0).any():
            i = int(np.flatnonzero((vals < 0).to_numpy())[0])
            raise InputError(f"{src} row {i}", col, _plain(df[col].iloc[i]), "must be ≥ 0")
        df[col] = vals
    return {str(region): region_forecast(src, str(region), part, numeric)
            for region, part in df.groupby("region", sort=True)}


def _plain(value: Any) -> Any:
    """A NumPy scalar as the Python value (so messages read `-5.0`, not `np.float64(-5.0)`)."""
    return value.item() if isinstance(value, np.generic) else value

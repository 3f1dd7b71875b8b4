"""Clear-sky irradiance for an area's slots (pvlib), shared by the synthetic grid and the models."""

from __future__ import annotations

import warnings

import pandas as pd
import pvlib

from forecasts.synthetic.areas import area_lat_lon

PANEL_TILT_DEG = 20.0
"""Typical fixed tilt of Japanese utility and rooftop PV, degrees."""
PANEL_AZIMUTH_DEG = 180.0
"""South-facing."""


def clearsky_irradiance(area: str, slot_starts: pd.DatetimeIndex,
                        slot_minutes: int) -> pd.DataFrame:
    """Clear-sky irradiance at the middle of each slot, W/m².

    Columns `ghi_w_per_m2` (global horizontal) and `poa_w_per_m2` (plane of array, tilt
    `PANEL_TILT_DEG` facing south), Ineichen model at the area's representative point.
    Indexed like `slot_starts` (tz-aware).
    """
    lat, lon = area_lat_lon(area)
    mid = slot_starts.tz_convert("UTC") + pd.Timedelta(minutes=slot_minutes / 2)
    loc = pvlib.location.Location(lat, lon, tz="UTC")
    with warnings.catch_warnings():
        # pvlib 0.11 calls DatetimeIndex.dayofyear, deprecated in pandas 3 (Pandas4Warning).
        warnings.filterwarnings("ignore", message=r".*dayofyear is deprecated")
        sun = loc.get_solarposition(mid)
        cs = loc.get_clearsky(mid, model="ineichen", solar_position=sun)
        poa = pvlib.irradiance.get_total_irradiance(
            PANEL_TILT_DEG, PANEL_AZIMUTH_DEG, sun["apparent_zenith"], sun["azimuth"],
            cs["dni"], cs["ghi"], cs["dhi"])
    return pd.DataFrame(
        {"ghi_w_per_m2": cs["ghi"].to_numpy(), "poa_w_per_m2": poa["poa_global"].to_numpy()},
        index=slot_starts,
    ).fillna(0.0).clip(lower=0.0)

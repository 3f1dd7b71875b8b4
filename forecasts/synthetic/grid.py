"""Synthetic area grid: a year of slot signals from physics and published figures.

The simulator's embedded default when no real data is given. It never reads the shared
files: PV comes from pvlib clear-sky irradiance × a seeded cloudiness factor, wind from a
seeded Weibull series, demand from a daily/weekly/seasonal shape scaled to published annual
energy, and a simple dispatch stacks must-run generation, absorbs surplus with pumped
storage, then export, and curtails what is left (solar first, then wind). Thermal fills the
residual in merit order (coal, LNG, oil). Output is the tidy TSO table
(`forecasts/sources/jp_tso/parse.py` columns) plus `carbon_gco2_per_kwh` (from
`forecasts.carbon.intensity`, default direct factors).

Sign conventions as in the TSO files: `pumped_storage_mw` < 0 = pumping;
`interconnection_mw` > 0 = import. Per slot:
demand = nuclear + thermal + hydro + geothermal + biomass + solar + wind + pumped_storage
+ battery + interconnection (curtailment is *not* part of supply).
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd
from scipy.signal import lfilter
from scipy.special import ndtr, ndtri

from forecasts.carbon.emission_factors import EmissionFactors, default_factors
from forecasts.carbon.intensity import average_intensity
from forecasts.forecast import ALLOWED_SLOT_MINUTES, Forecast
from forecasts.sources.jp_tso.parse import TIDY_COLUMNS
from forecasts.synthetic.areas import AREAS, AreaParams, area_params
from forecasts.synthetic.clearsky import clearsky_irradiance
from inputs.errors import InputError

JST = "Asia/Tokyo"

PV_DERATE = 0.80
"""DC nameplate → delivered AC at 1,000 W/m² POA (temperature, inverter, soiling, wiring)."""
PV_AC_LIMIT = 0.85
"""Inverter clipping: AC output never exceeds this share of DC nameplate."""
PUMP_EFFICIENCY = 0.70
"""Round-trip efficiency of pumped storage."""
PUMP_RELEASE_HOURS_JST = (17, 23)
"""Pumped water is released in the evening peak [17:00, 23:00) JST of the same day."""

# Normalised hourly demand shapes (JST hour 0…23), modelling choices with the familiar
# Japanese forms: mild seasons (flat day), summer (afternoon A/C peak), winter (morning and
# evening heating peaks).
_MILD = np.array([0.85, 0.83, 0.86, 0.90, 0.92, 0.93, 0.94, 0.96, 1.02, 1.07, 1.08, 1.08,
                  1.04, 1.07, 1.07, 1.06, 1.07, 1.08, 1.10, 1.08, 1.04, 0.99, 0.94, 0.90])
_SUMMER = np.array([0.80, 0.75, 0.74, 0.75, 0.77, 0.79, 0.81, 0.88, 1.01, 1.12, 1.17, 1.20,
                    1.19, 1.22, 1.22, 1.21, 1.20, 1.16, 1.13, 1.09, 1.03, 0.97, 0.92, 0.87])
_WINTER = np.array([0.85, 0.83, 0.86, 0.88, 0.89, 0.92, 0.99, 1.07, 1.12, 1.12, 1.07, 1.04,
                    1.00, 1.00, 0.99, 1.00, 1.04, 1.09, 1.12, 1.10, 1.07, 1.03, 0.97, 0.92])
# Fixed-date national holidays and customary closures (month, day): weekend-like demand.
_HOLIDAYS = ((1, 1), (1, 2), (1, 3), (2, 11), (2, 23), (3, 21), (4, 29), (5, 3), (5, 4),
             (5, 5), (8, 11), (8, 13), (8, 14), (8, 15), (8, 16), (9, 23), (11, 3), (11, 23),
             (12, 29), (12, 30), (12, 31))


def synthetic_area(area: str, start: datetime, days: int = 365, slot_minutes: int = 30,
                   seed: int = 0, *, params: AreaParams | None = None) -> pd.DataFrame:
    """A synthetic tidy supply–demand table for `area`, MW slot averages.

    `start` must be tz-aware; slots start there and cover `days` days. Same arguments →
    same frame. Columns: `TIDY_COLUMNS` + `carbon_gco2_per_kwh` (average, direct).
    `params` replaces the area's shipped parameters (what-if studies; e.g.
    `dataclasses.replace(area_params("kyushu"), pv_capacity_mw=15_000)`).
    """
    p = params if params is not None else area_params(area)
    times = _slot_grid(start, days, slot_minutes)
    rng = np.random.default_rng([seed, AREAS.index(p.area)])
    jst = times.tz_convert(JST)
    day = _jst_day_number(jst)
    hour = jst.hour.to_numpy() + jst.minute.to_numpy() / 60.0
    doy = jst.day_of_year.to_numpy().astype(float)

    clear_day = _daily_clear_sky_index(p, jst, day, rng)
    irr = clearsky_irradiance(p.area, times, slot_minutes)
    kt = _slot_clear_sky_index(clear_day[day], slot_minutes, rng)
    summer_w, winter_w = _season_weights(doy)
    derate = PV_DERATE - 0.05 * summer_w  # hot panels lose a few per cent in summer
    solar_avail = np.minimum(p.pv_capacity_mw * irr["poa_w_per_m2"].to_numpy() / 1000.0
                             * kt * derate, PV_AC_LIMIT * p.pv_capacity_mw)
    wind_avail = p.wind_capacity_mw * _wind_capacity_factor(p, winter_w, slot_minutes, rng)
    demand = _demand_mw(p, jst, hour, doy, day, clear_day, rng)
    hydro = p.hydro_mw * (1.0 + p.hydro_spring_gain * _bump(doy, 165.0, 40.0))
    hydro = hydro / (1.0 + p.hydro_spring_gain * 40.0 * np.sqrt(2 * np.pi) / 365.0)
    frame = _dispatch(p, times, day, hour, slot_minutes, demand, solar_avail, wind_avail, hydro)
    frame["carbon_gco2_per_kwh"] = synthetic_carbon_gco2_per_kwh(frame)
    return frame


def synthetic_forecast(area: str, start: datetime, days: int = 365, slot_minutes: int = 30,
                       seed: int = 0) -> Forecast:
    """`synthetic_area` as a `Forecast` (carbon gCO2/kWh, curtailment MW, source "synthetic")."""
    frame = synthetic_area(area, start, days, slot_minutes, seed)
    curtailed = (frame["solar_curtailed_mw"] + frame["wind_curtailed_mw"]).to_numpy()
    return Forecast(
        region=area.strip().lower(),
        slot_starts=pd.DatetimeIndex(frame["time_utc"]),
        slot_minutes=slot_minutes,
        carbon_gco2_per_kwh=frame["carbon_gco2_per_kwh"].to_numpy(),
        curtailment_mw=curtailed,
        source="synthetic",
    )


def synthetic_carbon_gco2_per_kwh(frame: pd.DataFrame,
                                  factors: EmissionFactors | None = None) -> np.ndarray:
    """Average carbon intensity of the supply per slot, gCO2/kWh (`forecasts.carbon.intensity`).

    Default factors: `emission_factors.default_factors()` (direct, IPCC 2014; imports at
    Japan's average).
    """
    return average_intensity(frame, factors or default_factors()).to_numpy()


def _slot_grid(start: datetime, days: int, slot_minutes: int) -> pd.DatetimeIndex:
    if start.tzinfo is None:
        raise InputError("synthetic", "start", start.isoformat(), "must be tz-aware")
    if slot_minutes not in ALLOWED_SLOT_MINUTES:
        raise InputError("synthetic", "slot_minutes", slot_minutes, "must be 15, 30 or 60")
    if days < 1:
        raise InputError("synthetic", "days", days, "must be ≥ 1")
    n = days * 24 * 60 // slot_minutes
    first = pd.Timestamp(start).tz_convert("UTC").as_unit("ns")
    return pd.date_range(first, periods=n, freq=f"{slot_minutes}min", unit="ns")


def _jst_day_number(jst: pd.DatetimeIndex) -> np.ndarray:
    midnight = jst.tz_localize(None).normalize()
    return ((midnight - midnight[0]) // pd.Timedelta(days=1)).to_numpy().astype(int)


def _ar1(n: int, phi: float, rng: np.random.Generator) -> np.ndarray:
    """Stationary AR(1) series with unit variance and lag-1 correlation `phi`."""
    w = rng.standard_normal(n)
    w[1:] *= np.sqrt(1.0 - phi**2)
    return lfilter([1.0], [1.0, -phi], w)


def _bump(doy: np.ndarray, centre: float, width: float) -> np.ndarray:
    """Periodic Gaussian bump over the year (day of year), peak 1 at `centre`."""
    d = np.abs(doy - centre)
    d = np.minimum(d, 365.0 - d)
    return np.exp(-0.5 * (d / width) ** 2)


def _season_weights(doy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return _bump(doy, 220.0, 35.0), _bump(doy, 20.0, 40.0)


def _daily_clear_sky_index(p: AreaParams, jst: pd.DatetimeIndex, day: np.ndarray,
                           rng: np.random.Generator) -> np.ndarray:
    """Daily clear-sky index (0.08–0.95): seeded AR(1) day to day, monthly mean from `p`."""
    n_days = int(day[-1]) + 1
    first = np.zeros(n_days, dtype=int)
    first[day[::-1]] = np.arange(len(day))[::-1]  # index of each day's first slot
    month = jst.month.to_numpy()[first] - 1
    target = np.asarray(p.monthly_clear_sky_index)[month]
    spread = 1.5  # latent spread: clear and overcast days dominate (bimodal-ish)
    lo, span = 0.08, 0.87
    offset = np.sqrt(1 + spread**2) * ndtri((target - lo) / span)
    z = _ar1(n_days, 0.5, rng)
    return lo + span * ndtr(spread * z + offset)


def _slot_clear_sky_index(clear_day: np.ndarray, slot_minutes: int,
                          rng: np.random.Generator) -> np.ndarray:
    """Within-day variation: broken clouds vary most on partly cloudy days."""
    phi = float(np.exp(-slot_minutes / 120.0))
    wiggle = _ar1(len(clear_day), phi, rng) * 0.35 * clear_day * (1.0 - clear_day)
    return np.clip(clear_day + wiggle, 0.03, 1.0)


def _wind_capacity_factor(p: AreaParams, winter_w: np.ndarray, slot_minutes: int,
                          rng: np.random.Generator) -> np.ndarray:
    """Fleet capacity factor from a Weibull(shape 2) wind speed with ~12 h memory."""
    phi = float(np.exp(-slot_minutes / 720.0))
    u = ndtr(_ar1(len(winter_w), phi, rng))
    speed = p.wind_scale_m_per_s * (1.0 + 0.2 * winter_w) * np.sqrt(-np.log1p(-u * 0.999999))
    cut_in, rated, cut_out = 3.0, 12.0, 25.0
    cf = np.clip((speed**3 - cut_in**3) / (rated**3 - cut_in**3), 0.0, 1.0)
    return np.where(speed > cut_out, 0.0, cf) * 0.85  # 0.85: availability and wake losses


def _demand_shape(hour: np.ndarray, doy: np.ndarray, off: np.ndarray,
                  p: AreaParams) -> np.ndarray:
    summer_w, winter_w = _season_weights(doy)
    hours = np.arange(25)
    prof = {k: np.interp(hour, hours, np.append(v, v[0]))
            for k, v in (("m", _MILD), ("s", _SUMMER), ("w", _WINTER))}
    mild_w = np.clip(1.0 - summer_w - winter_w, 0.0, None)
    shape = (mild_w * prof["m"] + summer_w * prof["s"] + winter_w * prof["w"]) / (
        mild_w + summer_w + winter_w)
    level = 1.0 + p.summer_peak_gain * summer_w + p.winter_peak_gain * winter_w
    daytime = np.clip((prof["m"] - 0.9) / 0.15, 0.0, 1.0)
    off_factor = np.where(off, 0.97 - 0.15 * daytime, 1.0)  # weekends and holidays
    return level * shape * off_factor


def is_off_day(jst: pd.DatetimeIndex) -> np.ndarray:
    """True for slots on weekends and fixed-date holidays/closures (`jst` in Asia/Tokyo)."""
    md = jst.month.to_numpy() * 100 + jst.day.to_numpy()
    holiday = np.isin(md, [m * 100 + d for m, d in _HOLIDAYS])
    return (jst.day_of_week.to_numpy() >= 5) | holiday


def _demand_mw(p: AreaParams, jst: pd.DatetimeIndex, hour: np.ndarray, doy: np.ndarray,
               day: np.ndarray, clear_day: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Area demand, MW: shape × weather noise, scaled so a year averages the published TWh."""
    ref = pd.date_range(f"{jst[0].year}-01-01", periods=8760, freq="h", tz=JST)
    ref_shape = _demand_shape(ref.hour.to_numpy().astype(float),
                              ref.day_of_year.to_numpy().astype(float), is_off_day(ref), p)
    scale = p.annual_demand_twh * 1e6 / 8760.0 / float(ref_shape.mean())
    summer_w, winter_w = _season_weights(doy)
    weather = 0.045 * _ar1(int(day[-1]) + 1, 0.7, rng)[day]
    # Sunny summer days are hot (more A/C); sunny winter days are mild (less heating).
    sun = clear_day[day] - 0.6
    weather = weather + 0.15 * sun * summer_w - 0.05 * sun * winter_w
    return scale * _demand_shape(hour, doy, is_off_day(jst), p) * (1.0 + weather)


def _dispatch(p: AreaParams, times: pd.DatetimeIndex, day: np.ndarray, hour: np.ndarray,
              slot_minutes: int, demand: np.ndarray, solar_avail: np.ndarray,
              wind_avail: np.ndarray, hydro: np.ndarray) -> pd.DataFrame:
    """Stack must-run, absorb surplus (pump, export), curtail, fill with thermal."""
    slot_h = slot_minutes / 60.0
    n = len(times)
    must_run = p.nuclear_mw + hydro + p.geothermal_mw + p.biomass_mw + p.min_thermal_mw
    residual = demand - p.base_interconnection_mw - must_run - solar_avail - wind_avail
    surplus = np.clip(-residual, 0.0, None)
    # Pumping, limited per JST day by the reservoir room (cumulative energy).
    want = np.minimum(surplus, p.pump_mw)
    cum_before = pd.Series(want * slot_h).groupby(day).cumsum().to_numpy() - want * slot_h
    pump = np.clip((p.pump_daily_mwh - cum_before) / slot_h, 0.0, want)
    extra_export = np.minimum(surplus - pump,
                              max(p.export_limit_mw + p.base_interconnection_mw, 0.0))
    curtail = surplus - pump - extra_export
    solar_cut = np.minimum(curtail, solar_avail)
    wind_cut = np.minimum(curtail - solar_cut, wind_avail)
    shortfall = curtail - solar_cut - wind_cut  # must-run oversupply beyond all VRE
    # Evening release of the day's pumped energy, never pushing thermal below its floor.
    evening = (hour >= PUMP_RELEASE_HOURS_JST[0]) & (hour < PUMP_RELEASE_HOURS_JST[1])
    release_h = PUMP_RELEASE_HOURS_JST[1] - PUMP_RELEASE_HOURS_JST[0]
    day_mwh = np.bincount(day, weights=pump * slot_h)
    release = np.where(evening, day_mwh[day] * PUMP_EFFICIENCY / release_h, 0.0)
    release = np.minimum(np.minimum(release, p.pump_mw), np.clip(residual, 0.0, None))
    thermal = p.min_thermal_mw + np.clip(residual, 0.0, None) - release
    thermal = thermal - np.minimum(shortfall, thermal)
    hydro_out = hydro - np.clip(shortfall - p.min_thermal_mw, 0.0, None)
    coal = np.minimum(thermal * (1 - p.other_thermal_share), p.coal_mw)
    lng = np.minimum(thermal * (1 - p.other_thermal_share) - coal, p.lng_mw)
    oil = thermal * (1 - p.other_thermal_share) - coal - lng
    jst = times.tz_convert(JST)
    frame = pd.DataFrame({
        "time_utc": times,
        "time_jst": jst,
        "slot_minutes": np.full(n, slot_minutes),
        "area": p.area,
        "demand_mw": demand,
        "nuclear_mw": np.full(n, p.nuclear_mw),
        "thermal_mw": thermal,
        "lng_mw": lng,
        "coal_mw": coal,
        "oil_mw": oil,
        "other_thermal_mw": thermal * p.other_thermal_share,
        "hydro_mw": hydro_out,
        "geothermal_mw": np.full(n, p.geothermal_mw),
        "biomass_mw": np.full(n, p.biomass_mw),
        "solar_mw": solar_avail - solar_cut,
        "solar_curtailed_mw": solar_cut,
        "wind_mw": wind_avail - wind_cut,
        "wind_curtailed_mw": wind_cut,
        "pumped_storage_mw": release - pump,
        "battery_mw": np.zeros(n),
        "interconnection_mw": p.base_interconnection_mw - extra_export,
    })
    return frame[list(TIDY_COLUMNS)]

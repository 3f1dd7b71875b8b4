"""Targets, issue rules and leakage-free features for day-ahead / intraday forecasting.

A forecast for the slots of JST day D is issued at `issue_hour_jst` on day D − `day_offset`
(day-ahead: 10:00 JST the day before; intraday: 06:00 JST the same day). Every feature of a
slot uses only values observed before its issue time, so features for a whole year are
built in one vectorised pass and are the same as those a live forecaster would have had.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from forecasts.carbon.emission_factors import EmissionFactors, default_factors
from forecasts.carbon.intensity import average_intensity
from forecasts.models.calendar import is_long_break, is_off_day
from forecasts.synthetic.clearsky import clearsky_irradiance
from inputs.errors import InputError

JST = "Asia/Tokyo"
TARGETS = ("curtailment_mw", "carbon_gco2_per_kwh")
"""Forecastable targets (columns added by `add_targets`)."""
CURTAILED_MW = 1.0
"""A slot with more curtailment than this is a curtailment event, MW."""


@dataclass(frozen=True)
class IssueRule:
    """When forecasts for a JST delivery day are issued."""

    issue_hour_jst: float
    """Hour of day (JST) of issue, e.g. 10.0."""
    day_offset: int
    """Days between the issue day and the delivery day (1 = day-ahead, 0 = intraday)."""
    name: str

    def __post_init__(self) -> None:
        if not 0 <= self.issue_hour_jst < 24 or not 0 <= self.day_offset <= 6:
            raise InputError("issue rule", self.name, (self.issue_hour_jst, self.day_offset),
                             "need 0 ≤ hour < 24 and 0 ≤ day_offset ≤ 6")


DAY_AHEAD = IssueRule(10.0, 1, "day-ahead")
"""Issued 10:00 JST for the whole next JST day."""
INTRADAY = IssueRule(6.0, 0, "intraday")
"""Issued 06:00 JST for the rest of the same JST day (06:00–24:00)."""


def intraday(hour_jst: float) -> IssueRule:
    """Issued at `hour_jst` for the rest of the same JST day (`INTRADAY` at 06:00)."""
    if hour_jst == INTRADAY.issue_hour_jst:
        return INTRADAY
    return IssueRule(hour_jst, 0, f"intraday-{hour_jst:g}")


def days_ahead(days: int) -> IssueRule:
    """Issued with the day-ahead forecast (10:00 JST) for the JST day `days` later
    (1 is `DAY_AHEAD`; 2 covers the day after tomorrow, for plans that look further)."""
    if days == DAY_AHEAD.day_offset:
        return DAY_AHEAD
    return IssueRule(DAY_AHEAD.issue_hour_jst, days, f"{days}-days-ahead")


CURTAILED_COLUMNS = ("solar_curtailed_mw", "wind_curtailed_mw")
"""The columns of a tidy table whose sum is `curtailment_mw`."""


def add_targets(tidy: pd.DataFrame, factors: EmissionFactors | None = None) -> pd.DataFrame:
    """Copy of a tidy table with `curtailment_mw` (solar + wind curtailed, MW; an empty cell
    = 0; NaN throughout when the table has no curtailment column — a carbon-only history's
    curtailment is unknown, not zero) and `carbon_gco2_per_kwh` (average,
    `forecasts.carbon.intensity`) added."""
    out = tidy.copy()
    reported = [c for c in CURTAILED_COLUMNS if c in tidy.columns]
    out["curtailment_mw"] = (tidy[reported].astype("float64").fillna(0.0).sum(axis=1)
                             if reported else np.nan)
    if "carbon_gco2_per_kwh" not in tidy.columns:
        out["carbon_gco2_per_kwh"] = average_intensity(tidy, factors or default_factors())
    return out


def regular_frame(tidy: pd.DataFrame, end: pd.Timestamp | None = None) -> pd.DataFrame:
    """Numeric columns on a gap-free UTC slot grid (index `time_utc`, ns), through `end`.

    Missing slots are NaN; the grid is extended with empty rows up to (excluding) `end`.
    """
    for col in ("time_utc", "slot_minutes", "area"):
        if col not in tidy.columns:
            raise InputError("history", "columns", list(tidy.columns), f"missing {col}")
    if tidy.empty:
        raise InputError("history", "rows", 0, "no history")
    slots = tidy["slot_minutes"].unique()
    areas = tidy["area"].unique()
    if len(slots) != 1 or len(areas) != 1:
        raise InputError("history", "slot_minutes/area", (list(slots), list(areas)),
                         "one area and one slot length per history")
    minutes = int(slots[0])
    times = pd.DatetimeIndex(tidy["time_utc"]).tz_convert("UTC").as_unit("ns")
    num = tidy.select_dtypes("number").drop(columns=["slot_minutes"]).set_axis(times)
    num = num[~num.index.duplicated(keep="last")].sort_index()
    last = num.index[-1] if end is None else max(num.index[-1], end - pd.Timedelta(minutes=1))
    grid = pd.date_range(num.index[0], last, freq=f"{minutes}min", unit="ns")
    out = num.reindex(grid)
    out.index.name = "time_utc"
    out.attrs.update(slot_minutes=minutes, area=str(areas[0]))
    return out


def issue_times(index: pd.DatetimeIndex, rule: IssueRule) -> pd.DatetimeIndex:
    """Issue time (UTC) of the forecast covering each slot of `index`."""
    jst = index.tz_convert(JST)
    midnight = jst.normalize()
    issued = midnight - pd.Timedelta(days=rule.day_offset) + pd.Timedelta(hours=rule.issue_hour_jst)
    return issued.tz_convert("UTC")


def forecastable(index: pd.DatetimeIndex, rule: IssueRule) -> np.ndarray:
    """True where the slot starts at or after its issue time (intraday skips earlier slots)."""
    return np.asarray(index >= issue_times(index, rule))


def latest_same_slot(series: pd.Series, rule: IssueRule, minutes: int) -> pd.Series:
    """Value at the same time of day on the latest day already observed at issue time.

    Slots whose time of day is before the issue hour were seen `day_offset` days earlier
    (≥ 1); the others `day_offset + 1` days earlier.
    """
    per_day = 24 * 60 // minutes
    jst = series.index.tz_convert(JST)
    hour = jst.hour + jst.minute / 60.0
    seen_recently = (hour + minutes / 60.0 <= rule.issue_hour_jst) & (rule.day_offset >= 1)
    near = series.shift(rule.day_offset * per_day)
    far = series.shift((rule.day_offset + 1) * per_day)
    return pd.Series(np.where(seen_recently, near, far), index=series.index)


def same_slot_weeks_ago(series: pd.Series, rule: IssueRule, minutes: int) -> pd.Series:
    """Value at the same slot one week earlier (always observed for `day_offset` ≤ 6)."""
    return series.shift(7 * 24 * 60 // minutes)


def last_observed(series: pd.Series, rule: IssueRule, minutes: int) -> pd.Series:
    """The value of the last slot that ended at or before the issue time (persistence)."""
    at = issue_times(series.index, rule) - pd.Timedelta(minutes=minutes)
    return pd.Series(series.reindex(at).to_numpy(), index=series.index)


def window_before_issue(series: pd.Series, rule: IssueRule, minutes: int,
                        how: str, days: float = 1.0) -> pd.Series:
    """`how` ('max', 'mean', 'sum') of the `days` × 24 h that ended at the issue time."""
    n = max(1, round(days * 24 * 60 / minutes))
    rolled = series.rolling(n, min_periods=max(1, n // 2)).agg(how)
    return last_observed(rolled, rule, minutes)


def same_slot_mean(series: pd.Series, rule: IssueRule, minutes: int,
                   days: int = 7) -> pd.Series:
    """Mean of the same slot over the latest `days` days observed at issue time (NaNs
    skipped; NaN when none was observed)."""
    per_day = 24 * 60 // minutes
    total = pd.Series(0.0, index=series.index)
    count = pd.Series(0.0, index=series.index)
    for j in range(days):
        lagged = latest_same_slot(series.shift(j * per_day), rule, minutes)
        total += lagged.fillna(0.0)
        count += lagged.notna()
    return total / count.where(count > 0)


def build_features(frame: pd.DataFrame, target: str, rule: IssueRule,
                   exogenous: pd.DataFrame | None = None) -> pd.DataFrame:
    """Feature table (index = slot start UTC) for forecasting `target` under `rule`.

    `frame` comes from `regular_frame` (with `add_targets` columns). Calendar and clear-sky
    features are known in advance; every data feature is lagged to the issue time (the
    same slot on the latest observed days, or windows that end at the issue time).
    Columns prefixed `y_` are values of the target itself.

    `exogenous` (index = slot start UTC, numeric columns) adds forecasts made by others for
    the slots, e.g. a TSO's day-ahead solar forecast, as `exo_<column>`: the caller vouches
    that each value was published before the slot's issue time.
    """
    if target not in frame.columns:
        raise InputError("history", "target", target, f"not a column (targets: {TARGETS})")
    minutes = int(frame.attrs["slot_minutes"])
    idx = pd.DatetimeIndex(frame.index)
    ghi = pd.Series(clearsky_irradiance(str(frame.attrs["area"]), idx, minutes)[
        "ghi_w_per_m2"].to_numpy(), index=idx)
    feats = _calendar(idx, rule, minutes)
    feats["clearsky_ghi_w_per_m2"] = ghi.to_numpy()
    feats.update(_target_lags(frame[target], target, rule, minutes))
    feats.update(_grid_lags(frame, ghi, rule, minutes))
    for other in TARGETS:  # (a target the history does not report is no feature)
        if other != target and other in frame.columns and frame[other].notna().any():
            feats[f"{other}_same_slot"] = latest_same_slot(frame[other], rule, minutes)
    if exogenous is not None:
        aligned = exogenous.set_axis(pd.DatetimeIndex(exogenous.index).tz_convert("UTC")
                                     .as_unit("ns")).reindex(idx)
        feats.update({f"exo_{c}": aligned[c] for c in aligned.columns})
    return pd.DataFrame({k: np.asarray(v, dtype=float) for k, v in feats.items()}, index=idx)


def _calendar(idx: pd.DatetimeIndex, rule: IssueRule, minutes: int) -> dict[str, object]:
    """Features known years ahead: time of day, season, Japanese off days, lead time."""
    jst = idx.tz_convert(JST)
    doy = jst.day_of_year.to_numpy()
    off = is_off_day(jst)
    per_day = 24 * 60 // minutes
    ref_off = latest_same_slot(pd.Series(off.astype(float), index=idx), rule, minutes)
    return {
        "hour_jst": jst.hour.to_numpy() + jst.minute.to_numpy() / 60.0,
        "doy_sin": np.sin(2 * np.pi * doy / 365.25),
        "doy_cos": np.cos(2 * np.pi * doy / 365.25),
        "day_of_week": jst.day_of_week.to_numpy(),
        "off_day": off.astype(float),
        "long_break": is_long_break(jst).astype(float),
        # Was the day the lagged features copy an off day too? (computed from the calendar,
        # so it is defined even where the series starts)
        "ref_off_day": ref_off.fillna(pd.Series(off.astype(float), index=idx).shift(
            per_day)).to_numpy(),
        "lead_h": (idx - issue_times(idx, rule)) / pd.Timedelta(hours=1),
    }


def _target_lags(y: pd.Series, target: str, rule: IssueRule,
                 minutes: int) -> dict[str, object]:
    """The target's own recent values, all observed by the issue time."""
    feats: dict[str, object] = {
        "y_same_slot": latest_same_slot(y, rule, minutes),
        "y_same_slot_7d": same_slot_mean(y, rule, minutes, 7),
        "y_week_ago": same_slot_weeks_ago(y, rule, minutes),
        "y_last": last_observed(y, rule, minutes),
        "y_max_24h": window_before_issue(y, rule, minutes, "max"),
        "y_mean_24h": window_before_issue(y, rule, minutes, "mean"),
        "y_mean_7d": window_before_issue(y, rule, minutes, "mean", days=7),
    }
    if target == "curtailment_mw":
        event = (y > CURTAILED_MW).astype(float).where(y.notna())
        feats["curtailed_share_7d"] = window_before_issue(event, rule, minutes, "mean", 7)
        feats["curtailed_same_slot_share_7d"] = same_slot_mean(event, rule, minutes, 7)
        feats["curtailed_days_ago"] = _days_since(event, rule, minutes)
    return feats


def _days_since(event: pd.Series, rule: IssueRule, minutes: int,
                cap_days: float = 30.0) -> pd.Series:
    """Days from the last event slot to the issue time (`cap_days` when none in the cap)."""
    times = pd.Series(np.where(event.to_numpy() > 0, event.index.asi8, np.nan),
                      index=event.index).ffill()
    seen = last_observed(times, rule, minutes)
    issued = issue_times(pd.DatetimeIndex(event.index), rule).asi8
    days = (issued - seen.to_numpy()) / (86_400 * 1e9)
    return pd.Series(np.minimum(np.nan_to_num(days, nan=cap_days), cap_days),
                     index=event.index)


def _grid_lags(frame: pd.DataFrame, ghi: pd.Series, rule: IssueRule,
               minutes: int) -> dict[str, object]:
    """Demand, solar fleet, nuclear and exchange levels observed by the issue time."""
    per_day = 24 * 60 // minutes
    cols = set(frame.columns)
    feats: dict[str, object] = {}
    if "demand_mw" in cols:
        demand = frame["demand_mw"]
        feats["demand_same_slot_mw"] = latest_same_slot(demand, rule, minutes)
        feats["demand_week_ago_mw"] = same_slot_weeks_ago(demand, rule, minutes)
        feats["demand_mean_7d_mw"] = window_before_issue(demand, rule, minutes, "mean", 7)
    if {"solar_mw", "solar_curtailed_mw"} <= cols:
        avail = frame["solar_mw"] + frame["solar_curtailed_mw"].fillna(0.0)
        sunny = ghi.where(ghi > 0)
        # Yesterday's cloudiness: available solar per unit of clear-sky irradiance.
        ratio = avail.rolling(per_day, min_periods=1).sum() / sunny.rolling(
            per_day, min_periods=1).sum()
        feats["solar_per_ghi_24h"] = last_observed(ratio, rule, minutes)
        # Fleet size: the best available-solar / clear-sky ratio of 30 days (MW per W/m²)
        # of slots with real sun, times tomorrow's clear-sky irradiance.
        fleet = (avail / ghi.where(ghi > 200.0)).rolling(30 * per_day, min_periods=1).quantile(0.95)
        fleet_seen = last_observed(fleet, rule, minutes)
        solar_clearsky = fleet_seen * ghi
        feats["solar_clearsky_mw"] = solar_clearsky
        if "demand_mw" in cols:
            others = frame.reindex(columns=["nuclear_mw", "geothermal_mw", "biomass_mw",
                                            "hydro_mw"]).sum(axis=1, min_count=1)
            must_run = window_before_issue(others, rule, minutes, "mean")
            feats["surplus_clearsky_mw"] = (solar_clearsky + must_run.fillna(0.0)
                                            - feats["demand_same_slot_mw"])
    for col in ("nuclear_mw", "interconnection_mw"):
        if col in cols:
            feats[f"{col[:-3]}_last_mw"] = last_observed(frame[col], rule, minutes)
    return feats

"""The actual grid signals of a scenario, per region, on the simulation's slot grid.

Sources: `synthetic` (the package's synthetic grid, history included), `file`
(forecast.csv), `jp-tso` (TSO area supply–demand files) and `electricitymaps-csv`
(hourly carbon only: curtailment unknown, kept as NaN in reports; the planner and the
accounting then count no curtailed energy as absorbed there). A source may cover more
than the simulated period: what lies before `start` is history for the forecast models.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from forecasts.carbon.signals import signals_from_tidy
from forecasts.csv_file import read_forecast_csv
from forecasts.forecast import SERIES, Forecast
from forecasts.sources.electricitymaps_csv import read_electricitymaps_csv
from forecasts.sources.jp_tso.parse import parse_area_files
from forecasts.synthetic.areas import area_params
from forecasts.synthetic.grid import synthetic_area
from inputs.errors import InputError
from simulations.scenario import GridSpec, Scenario

SEASONAL_DAYS = 8
"""History always kept before `start` (seasonal-naive looks back up to a week)."""


@dataclass(frozen=True)
class RegionSignals:
    """One region's actual signals and, where the source has one, its supply–demand table."""

    actual: Forecast
    """On the simulation grid, from the history start to the end of the signals."""
    tidy: pd.DataFrame | None
    """Tidy history table (the forecast models' training data): the supply–demand table,
    or carbon intensity alone (`electricitymaps-csv`); None for `file` sources."""


def load_signals(sc: Scenario, until: pd.Timestamp) -> dict[str, RegionSignals]:
    """Every region's signals on one grid (the scenario's `slot_minutes`, else the finest
    region's), cut to the span all regions cover; that span must include [start, end).
    Synthetic grids are made up to `until` (files give what they hold)."""
    raw = {g.region: _read(sc, g, until) for g in sc.grid}
    minutes = sc.slot_minutes or min(r.actual.slot_minutes for r in raw.values())
    if sc.replan_minutes % minutes:
        raise InputError(sc.source, "replan_minutes", sc.replan_minutes,
                         f"must be a multiple of the {minutes}-minute slot")
    out = {region: replace(r, actual=on_slots(r.actual, minutes)) for region, r in raw.items()}
    first = max(r.actual.slot_starts[0] for r in out.values())
    last = min(r.actual.end for r in out.values())
    for region, r in out.items():
        if r.actual.slot_starts[0] > sc.start or r.actual.end < sc.end:
            raise InputError(sc.source, f"grid.{region}",
                             f"{r.actual.slot_starts[0].isoformat()}…{r.actual.end.isoformat()}",
                             f"signals must cover the simulated period {sc.start.isoformat()}"
                             f"…{sc.end.isoformat()}")
    return {region: replace(r, actual=window(r.actual, first, last))
            for region, r in out.items()}


def _read(sc: Scenario, g: GridSpec, until: pd.Timestamp) -> RegionSignals:
    if g.source == "synthetic":
        try:
            area_params(g.area)
        except InputError as err:
            raise InputError(sc.source, f"grid.{g.region}.area", g.area, err.problem) from None
        # the same history whatever the forecast model: the actual signals of a scenario
        # must not depend on how they are forecast
        days_before = max(SEASONAL_DAYS, sc.forecast.history_days)
        first = (sc.start - pd.Timedelta(days=days_before)).floor("D")
        days = int(np.ceil((until - first) / pd.Timedelta(days=1))) + 1
        tidy = synthetic_area(g.area, first.to_pydatetime(), days=days,
                              slot_minutes=sc.slot_minutes or 30, seed=sc.seed + g.seed)
        curtailed = (tidy["solar_curtailed_mw"] + tidy["wind_curtailed_mw"]).to_numpy()
        fc = Forecast(region=g.region, slot_starts=pd.DatetimeIndex(tidy["time_utc"]),
                      slot_minutes=sc.slot_minutes or 30,
                      carbon_gco2_per_kwh=tidy["carbon_gco2_per_kwh"].to_numpy(),
                      curtailment_mw=curtailed, source="synthetic")
        return RegionSignals(fc, tidy)
    if g.source == "jp-tso":
        tidy = parse_area_files(list(g.paths), area=g.area)
        fc = signals_from_tidy(tidy, str(tidy["area"].iloc[0]))
        return RegionSignals(replace(fc, region=g.region), tidy)
    if g.source == "electricitymaps-csv":
        fc = read_electricitymaps_csv(list(g.paths), g.region)
        carbon_only = pd.DataFrame({"time_utc": fc.slot_starts, "slot_minutes": fc.slot_minutes,
                                    "area": g.area, "carbon_gco2_per_kwh": fc.carbon_gco2_per_kwh})
        return RegionSignals(fc, carbon_only)
    fcs: dict[str, Forecast] = {}
    for path in g.paths:
        fcs.update(read_forecast_csv(path))
    name = g.region if g.region in fcs else g.area
    if name not in fcs:
        raise InputError(sc.source, f"grid.{g.region}.path", [str(p) for p in g.paths],
                         f"has no region {g.region!r} (regions: {', '.join(fcs)})")
    return RegionSignals(replace(fcs[name], region=g.region), None)


def on_slots(fc: Forecast, minutes: int) -> Forecast:
    """`fc` on slots of `minutes`: finer slots repeat the coarser value (a slot average
    holds for each part), coarser slots average the finer ones (a part missing → NaN)."""
    if fc.slot_minutes == minutes:
        return fc
    frame = pd.DataFrame({n: getattr(fc, n) for n in SERIES if getattr(fc, n) is not None},
                         index=fc.slot_starts)
    if minutes < fc.slot_minutes:
        idx = pd.date_range(fc.slot_starts[0], fc.end, freq=f"{minutes}min", inclusive="left")
        frame = frame.reindex(idx, method="ffill")
    else:
        frame = frame.resample(f"{minutes}min").mean()
    kept = {n: frame[n].to_numpy() for n in frame.columns}
    return replace(fc, slot_starts=pd.DatetimeIndex(frame.index), slot_minutes=minutes,
                   quantiles={}, **kept)


def window(fc: Forecast, first: pd.Timestamp, until: pd.Timestamp) -> Forecast:
    """The slots of `fc` starting in [first, until)."""
    return fc.select(slice(*fc.slot_starts.searchsorted([first, until])))


def for_planner(fc: Forecast) -> Forecast:
    """`fc` as the planner and the accounting read it: unknown curtailment (NaN) counts as
    none absorbable — no energy is claimed zero-carbon without data to show it."""
    if not np.isnan(fc.curtailment_mw).any():
        return fc
    return replace(fc, curtailment_mw=np.nan_to_num(fc.curtailment_mw, nan=0.0))

"""Carbon intensity (gCO2eq/kWh) per slot from a tidy generation-mix table.

Average intensity = Σ(generation_MW × factor) / Σ generation_MW over the sources that
supply the area in the slot:

* the fuels of `emission_factors.FUELS` (negative readings — station use — count as 0);
  a legacy `thermal_mw` without the LNG/coal/oil/other split is split by the area's
  thermal shares;
* storage discharge (positive `pumped_storage_mw`, `battery_mw`) at the storage factor;
  charging (negative values) is load, not supply, and is left out;
* imports (positive `interconnection_mw`) at the import factor; exports are not
  subtracted (the intensity is that of the power supplied in the area).

The tidy table's `その他` (other) column is not carried by the parser, so it is not counted.

Marginal-intensity proxy (`marginal_fuel`): the intensity of the source that would serve
one more kWh in the slot —
1. `curtailed` (0 gCO2/kWh) when solar or wind is being curtailed: extra load absorbs
   power that is otherwise thrown away;
2. else the most expensive thermal fuel that supplies at least `min_thermal_share`
   (default 5 %) of thermal output, in merit order oil > LNG > coal > other thermal.
   Below the threshold a fuel is treated as must-run (e.g. TEPCO's ~500 MW of oil, ~2 %
   of its thermal output, runs flat all year and does not follow load);
3. else (no thermal running) `imports`, at the import factor.
For legacy files the split is the area's constant shares, so the thermal rule picks the
same fuel every uncurtailed hour.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from forecasts.carbon.emission_factors import FUELS, THERMAL_FUELS, EmissionFactors
from inputs.errors import InputError

STORAGE = "storage_discharge"
IMPORTS = "imports"
SOURCES = (*FUELS, STORAGE, IMPORTS)
"""Columns of `generation_by_source_mw`."""

MERIT_ORDER = ("oil", "lng", "coal", "other_thermal")
"""Thermal fuels from most to least expensive: the first running one sets the margin."""

MIN_THERMAL_SHARE = 0.05
"""Share of thermal output below which a fuel is treated as must-run (not marginal)."""

_DATA_COLUMNS = (*(f"{f}_mw" for f in FUELS),
                 "thermal_mw", "pumped_storage_mw", "battery_mw", "interconnection_mw")


def generation_by_source_mw(tidy: pd.DataFrame, factors: EmissionFactors) -> pd.DataFrame:
    """Supply per source in MW (≥ 0), columns `SOURCES`, same index as `tidy`.

    Rows with no generation data at all are NaN throughout.
    """
    _check_columns(tidy)
    num = tidy.reindex(columns=list(_DATA_COLUMNS)).astype("float64")
    out = num[[f"{f}_mw" for f in FUELS]].clip(lower=0.0).fillna(0.0)
    out.columns = list(FUELS)
    split = num[[f"{f}_mw" for f in THERMAL_FUELS]]
    legacy = split.isna().all(axis=1) & num["thermal_mw"].notna()
    if legacy.any():
        shares = _shares_per_row(tidy.loc[legacy, "area"], factors)
        thermal = num.loc[legacy, "thermal_mw"].clip(lower=0.0).to_numpy()[:, None]
        out.loc[legacy, list(THERMAL_FUELS)] = shares * thermal
    storage = num[["pumped_storage_mw", "battery_mw"]].clip(lower=0.0).fillna(0.0)
    out[STORAGE] = storage.sum(axis=1)
    out[IMPORTS] = num["interconnection_mw"].clip(lower=0.0).fillna(0.0)
    out.loc[num.isna().all(axis=1)] = np.nan
    return out


def charging_mw(tidy: pd.DataFrame) -> pd.Series:
    """Storage charging (pumping plus battery charge) per slot, MW ≥ 0."""
    cols = tidy.reindex(columns=["pumped_storage_mw", "battery_mw"]).astype("float64")
    return (-cols.clip(upper=0.0)).fillna(0.0).sum(axis=1)


def storage_factor_gco2_per_kwh(tidy: pd.DataFrame, factors: EmissionFactors) -> pd.Series:
    """Storage-discharge factor per area (gCO2/kWh; index = area).

    The fixed `factors.storage_gco2_per_kwh` when set; else the charge-weighted mean of
    the average intensity (without storage) over the slots in which the area charged, and
    the import factor for an area that never charged in the table.
    """
    areas = pd.Index(tidy["area"].unique(), name="area")
    if factors.storage_gco2_per_kwh is not None:
        return pd.Series(float(factors.storage_gco2_per_kwh), index=areas)
    gen = generation_by_source_mw(tidy, factors)
    emitted, supplied = _emissions_and_supply(gen, factors)
    base = (emitted / supplied.where(supplied > 0)).fillna(0.0)
    weight = charging_mw(tidy).where(supplied > 0, 0.0)
    by_area = pd.DataFrame({"e": base * weight, "w": weight, "area": tidy["area"]})
    sums = by_area.groupby("area", sort=False)[["e", "w"]].sum().reindex(areas)
    factor = sums["e"] / sums["w"].where(sums["w"] > 0)
    return factor.fillna(factors.imports_gco2_per_kwh)


def average_intensity(tidy: pd.DataFrame, factors: EmissionFactors) -> pd.Series:
    """Average carbon intensity of the supply per slot, gCO2eq/kWh (NaN: no data)."""
    gen = generation_by_source_mw(tidy, factors)
    emitted, supplied = _emissions_and_supply(gen, factors)
    storage_factor = tidy["area"].map(storage_factor_gco2_per_kwh(tidy, factors))
    emitted = emitted + gen[STORAGE] * storage_factor.astype("float64")
    supplied = supplied + gen[STORAGE]
    out = emitted / supplied.where(supplied > 0)
    return out.rename("carbon_gco2_per_kwh")


def marginal_fuel(tidy: pd.DataFrame, factors: EmissionFactors,
                  min_thermal_share: float = MIN_THERMAL_SHARE) -> pd.Series:
    """The source at the margin per slot (rule in the module doc).

    Values: `curtailed`, one of `MERIT_ORDER`, or `imports`; empty string for rows with
    no data.
    """
    gen = generation_by_source_mw(tidy, factors)
    thermal = gen[list(MERIT_ORDER)]
    total = thermal.sum(axis=1)
    share = thermal.div(total.where(total > 0), axis=0).fillna(0.0)
    running = [(share[f] >= min_thermal_share) & (thermal[f] > 0) for f in MERIT_ORDER]
    curtailed = tidy.reindex(columns=["solar_curtailed_mw", "wind_curtailed_mw"])
    is_curtailed = curtailed.astype("float64").fillna(0.0).sum(axis=1) > 0
    no_data = gen.isna().all(axis=1)
    choice = np.select([no_data, is_curtailed, *running], ["", "curtailed", *MERIT_ORDER],
                       default=IMPORTS)
    return pd.Series(choice, index=tidy.index, name="marginal_fuel")


def marginal_intensity(tidy: pd.DataFrame, factors: EmissionFactors,
                       min_thermal_share: float = MIN_THERMAL_SHARE) -> pd.Series:
    """Marginal-intensity proxy per slot, gCO2eq/kWh: the factor of `marginal_fuel`."""
    fuel = marginal_fuel(tidy, factors, min_thermal_share)
    lookup = {f: factors.fuel_gco2_per_kwh[f] for f in MERIT_ORDER}
    lookup.update({"curtailed": 0.0, IMPORTS: factors.imports_gco2_per_kwh, "": np.nan})
    return fuel.map(lookup).astype("float64").rename("marginal_gco2_per_kwh")


def _emissions_and_supply(gen: pd.DataFrame,
                          factors: EmissionFactors) -> tuple[pd.Series, pd.Series]:
    """gCO2/h-scaled emissions and MW supplied, storage discharge excluded."""
    weights = pd.Series({f: factors.fuel_gco2_per_kwh[f] for f in FUELS})
    weights[IMPORTS] = factors.imports_gco2_per_kwh
    cols = [*FUELS, IMPORTS]
    return gen[cols].mul(weights[cols], axis=1).sum(axis=1), gen[cols].sum(axis=1)


def _shares_per_row(areas: pd.Series, factors: EmissionFactors) -> np.ndarray:
    table = pd.DataFrame(factors.thermal_shares).T.reindex(columns=list(THERMAL_FUELS))
    unknown = sorted(set(areas.unique()) - set(table.index))
    if unknown:
        raise InputError("emission factors", "thermal_shares", unknown[0],
                         "no thermal fuel split for this area (needed for thermal_mw)")
    return table.loc[areas.to_numpy()].fillna(0.0).to_numpy(dtype=float)


def _check_columns(tidy: pd.DataFrame) -> None:
    if "area" not in tidy.columns:
        raise InputError("tidy table", "columns", list(tidy.columns), "missing area")
    if not any(c in tidy.columns for c in _DATA_COLUMNS):
        raise InputError("tidy table", "columns", list(tidy.columns),
                         "no generation columns (<fuel>_mw)")

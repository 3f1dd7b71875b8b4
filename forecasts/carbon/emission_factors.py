"""Emission factors per fuel (gCO2eq/kWh) and the thermal fuel split of each area.

Everything the mix → carbon-intensity conversion needs lives in one `EmissionFactors`
object: a factor per fuel of the tidy table, a factor for imports, a factor for storage
discharge, and each area's thermal fuel shares for legacy files that only give a total
`thermal_mw`. Defaults are shipped here (with the source of every number); any part can
be overridden from a mapping or a small YAML file:

```yaml
basis: lifecycle            # start from the life-cycle table (default: direct)
fuels: {coal: 820, lng: 450}
imports_gco2_per_kwh: 450
storage_gco2_per_kwh: charging   # or a number; charging = charge-weighted (see below)
thermal_shares:
  chugoku: {lng: 0.2, coal: 0.7, oil: 0.02, other_thermal: 0.08}
```

Sources of the per-fuel defaults: IPCC AR5 WG3 (2014) Annex III — median direct and
life-cycle factors — as tabulated in Electricity Maps' `config/defaults.yaml`
(electricitymaps-contrib, snapshot b354f28); the numbers are copied here, that file is
not read at run time. `lng` is IPCC's "gas" (combined cycle). For oil, IPCC gives no
median; Electricity Maps use a blended EIA 2020 / BEIS 2021 direct figure (406) and UK
POST's life-cycle figure (650). The direct oil figure is low for Japan's oil-fired steam
units (≈ 700 direct); it is kept so that our numbers compare like for like with
Electricity Maps' JP estimates — override it where that matters.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from inputs.errors import InputError

BASES = ("direct", "lifecycle")

FUELS = ("nuclear", "lng", "coal", "oil", "other_thermal", "hydro", "geothermal", "biomass",
         "solar", "wind")
"""Generating fuels of the tidy table (column `<fuel>_mw`)."""

THERMAL_FUELS = ("lng", "coal", "oil", "other_thermal")
"""The split of `thermal_mw` in the unified (FY2024+) layout."""

DIRECT_GCO2_PER_KWH: Mapping[str, float] = {
    "nuclear": 0.0,        # IPCC 2014 (no combustion)
    "lng": 370.0,          # IPCC 2014, gas (CCGT) direct median
    "coal": 760.0,         # IPCC 2014, coal (PC) direct median
    "oil": 406.0,          # Electricity Maps: blend of EIA 2020 and BEIS 2021 (see above)
    "other_thermal": 575.0,  # Electricity Maps "unknown": assumes conventional thermal
    "hydro": 0.0,          # IPCC 2014
    "geothermal": 0.0,     # IPCC 2014
    "biomass": 0.0,        # BEIS 2021: biogenic CO2 counted as zero at the stack
    "solar": 0.0,          # IPCC 2014
    "wind": 0.0,           # IPCC 2014
}
"""Direct (operational, stack) emission factors, gCO2eq/kWh."""

LIFECYCLE_GCO2_PER_KWH: Mapping[str, float] = {
    "nuclear": 12.0,       # IPCC 2014 life-cycle median
    "lng": 490.0,          # IPCC 2014, gas (CCGT)
    "coal": 820.0,         # IPCC 2014, coal (PC)
    "oil": 650.0,          # UK POST (2006, cited as 2014 by Electricity Maps)
    "other_thermal": 700.0,  # Electricity Maps "unknown": assumes conventional thermal
    "hydro": 24.0,         # IPCC 2014
    "geothermal": 38.0,    # IPCC 2014
    "biomass": 230.0,      # IPCC 2014 (dedicated biomass)
    "solar": 45.0,         # IPCC 2014 (utility PV)
    "wind": 11.0,          # IPCC 2014 (onshore)
}
"""Life-cycle emission factors, gCO2eq/kWh."""

NATIONAL_AVERAGE_GCO2_PER_KWH: Mapping[str, float] = {"direct": 354.0, "lifecycle": 433.0}
"""Japan's average intensity, the default for imports over interconnections.

Derived with the factor tables above from the national 30-minute mix of FY2025
(2025-04-01 … 2026-03-07, JREF download combining OCCTO/TSO results; energy-weighted
over generating sources, storage and interconnections excluded). A test re-derives it
from the shared file.
"""

THERMAL_SHARES: Mapping[str, Mapping[str, float]] = {
    # Energy shares of thermal output by fuel, from the unified-layout area files
    # (`derive_thermal_shares`). Tokyo: FY2025 (2025-04-01 … 2026-03-14, 16,702
    # half-hours). Other areas: only the 2-day format samples exist (Chubu 2026-03-01/02,
    # Tohoku 2026-04-15, the rest 2026-04-01/02) — thin, spring-only evidence; override
    # them when a longer unified file is at hand.
    "hokkaido": {"lng": 0.2282, "coal": 0.4871, "oil": 0.1997, "other_thermal": 0.0851},
    "tohoku": {"lng": 0.3631, "coal": 0.5811, "oil": 0.0, "other_thermal": 0.0558},
    "tokyo": {"lng": 0.6812, "coal": 0.2403, "oil": 0.0200, "other_thermal": 0.0585},
    "chubu": {"lng": 0.5316, "coal": 0.4209, "oil": 0.0, "other_thermal": 0.0475},
    "hokuriku": {"lng": 0.1266, "coal": 0.8710, "oil": 0.0, "other_thermal": 0.0024},
    "kansai": {"lng": 0.6735, "coal": 0.2367, "oil": 0.0011, "other_thermal": 0.0887},
    "chugoku": {"lng": 0.1400, "coal": 0.7606, "oil": 0.0116, "other_thermal": 0.0878},
    "shikoku": {"lng": 0.1275, "coal": 0.7989, "oil": 0.0, "other_thermal": 0.0737},
    "kyushu": {"lng": 0.2071, "coal": 0.7020, "oil": 0.0204, "other_thermal": 0.0705},
    "okinawa": {"lng": 0.2531, "coal": 0.6359, "oil": 0.1110, "other_thermal": 0.0},
}
"""Default thermal fuel split per area (shares of `thermal_mw`, summing to 1)."""

_STORAGE_CHARGING = "charging"
_KEYS = frozenset({"basis", "fuels", "imports_gco2_per_kwh", "storage_gco2_per_kwh",
                   "thermal_shares"})


@dataclass(frozen=True)
class EmissionFactors:
    """The parameters of the mix → intensity conversion (all factors gCO2eq/kWh)."""

    basis: str = "direct"
    """`direct` (operational) or `lifecycle`."""
    fuel_gco2_per_kwh: Mapping[str, float] = field(
        default_factory=lambda: dict(DIRECT_GCO2_PER_KWH))
    """Factor per fuel in `FUELS`."""
    imports_gco2_per_kwh: float = NATIONAL_AVERAGE_GCO2_PER_KWH["direct"]
    """Intensity of power imported over interconnections (positive flow)."""
    storage_gco2_per_kwh: float | None = None
    """Factor of storage discharge (pumped hydro, battery); None = charge-weighted: the
    mean average intensity of the slots in which the area charged, weighted by MW charged."""
    thermal_shares: Mapping[str, Mapping[str, float]] = field(
        default_factory=lambda: {a: dict(s) for a, s in THERMAL_SHARES.items()})
    """Area → thermal fuel → share of `thermal_mw` (for legacy files)."""


def default_factors(basis: str = "direct") -> EmissionFactors:
    """The shipped defaults for `basis` (`direct` or `lifecycle`)."""
    if basis not in BASES:
        raise InputError("emission factors", "basis", basis, f"must be one of {BASES}")
    table = DIRECT_GCO2_PER_KWH if basis == "direct" else LIFECYCLE_GCO2_PER_KWH
    return EmissionFactors(basis=basis, fuel_gco2_per_kwh=dict(table),
                           imports_gco2_per_kwh=NATIONAL_AVERAGE_GCO2_PER_KWH[basis])


def load_factors(overrides: Mapping[str, Any] | str | Path | None = None,
                 basis: str | None = None) -> EmissionFactors:
    """Defaults updated by `overrides` (a mapping or a YAML file, layout in the module doc).

    `basis` given here wins over a `basis` key in the overrides.
    """
    src = "emission factors"
    if isinstance(overrides, str | Path):
        src = str(overrides)
        overrides = _read_yaml(overrides)
    over = dict(overrides or {})
    unknown = sorted(set(over) - _KEYS)
    if unknown:
        raise InputError(src, "key", unknown[0], f"unknown; allowed: {sorted(_KEYS)}")
    factors = default_factors(basis or str(over.get("basis", "direct")))
    fuels = dict(factors.fuel_gco2_per_kwh)
    for fuel, value in _mapping(src, "fuels", over.get("fuels", {})).items():
        if fuel not in FUELS:
            raise InputError(src, "fuels", fuel, f"unknown fuel; allowed: {list(FUELS)}")
        fuels[fuel] = _factor(src, f"fuels.{fuel}", value)
    imports = factors.imports_gco2_per_kwh
    if "imports_gco2_per_kwh" in over:
        imports = _factor(src, "imports_gco2_per_kwh", over["imports_gco2_per_kwh"])
    storage = factors.storage_gco2_per_kwh
    if "storage_gco2_per_kwh" in over:
        value = over["storage_gco2_per_kwh"]
        is_charging = value is None or value == _STORAGE_CHARGING
        storage = None if is_charging else _factor(src, "storage_gco2_per_kwh", value)
    shares = dict(factors.thermal_shares)
    for area, split in _mapping(src, "thermal_shares", over.get("thermal_shares", {})).items():
        shares[str(area)] = _shares(src, str(area), split)
    return replace(factors, fuel_gco2_per_kwh=fuels, imports_gco2_per_kwh=imports,
                   storage_gco2_per_kwh=storage, thermal_shares=shares)


def derive_thermal_shares(tidy: pd.DataFrame) -> pd.DataFrame:
    """Energy shares of LNG/coal/oil/other thermal per area, from unified-layout rows.

    Rows where the split columns are all empty (legacy layouts) are ignored; negative
    values (station use) count as 0. Returns one row per area (index `area`), columns
    `THERMAL_FUELS`, each row summing to 1; areas without split data are absent.
    """
    cols = [f"{f}_mw" for f in THERMAL_FUELS]
    missing = [c for c in ["area", *cols] if c not in tidy.columns]
    if missing:
        raise InputError("tidy table", "columns", missing, "missing for the thermal split")
    split = tidy[cols].apply(pd.to_numeric, errors="coerce")
    has_split = split.notna().any(axis=1)
    energy = split[has_split].fillna(0.0).clip(lower=0.0).groupby(tidy.loc[has_split, "area"])
    totals = energy.sum()
    totals = totals[totals.sum(axis=1) > 0]
    shares = totals.div(totals.sum(axis=1), axis=0)
    shares.columns = list(THERMAL_FUELS)
    shares.index.name = "area"
    return shares


def _read_yaml(path: str | Path) -> Mapping[str, Any]:
    try:
        with open(path, encoding="utf-8") as fh:
            data = yaml.safe_load(fh)
    except FileNotFoundError:
        raise InputError(str(path), "path", str(path), "file not found") from None
    except yaml.YAMLError as exc:
        raise InputError(str(path), "content", "", f"not valid YAML ({exc})") from None
    return _mapping(str(path), "top level", data or {})


def _mapping(src: str, name: str, value: Any) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InputError(src, name, value, "must be a mapping")
    return value


def _factor(src: str, name: str, value: Any, unit: str = "gCO2/kWh") -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InputError(src, name, value, "not a number") from None
    if not np.isfinite(number) or number < 0:
        raise InputError(src, name, value, f"must be a finite number ≥ 0 {unit}")
    return number


def _shares(src: str, area: str, split: Any) -> dict[str, float]:
    split = _mapping(src, f"thermal_shares.{area}", split)
    bad = sorted(set(split) - set(THERMAL_FUELS))
    if bad:
        raise InputError(src, f"thermal_shares.{area}", bad[0],
                         f"unknown thermal fuel; allowed: {list(THERMAL_FUELS)}")
    out = {f: _factor(src, f"thermal_shares.{area}.{f}", split.get(f, 0.0), "(share)")
           for f in THERMAL_FUELS}
    total = sum(out.values())
    if not 0.99 <= total <= 1.01:
        raise InputError(src, f"thermal_shares.{area}", round(total, 4), "shares must sum to 1")
    return {f: v / total for f, v in out.items()}

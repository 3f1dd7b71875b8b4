"""`Battery`: a site's stationary battery (behind the meter), as declared in `sites.yaml`."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Battery:
    """A battery the planner may charge and discharge. Powers are on the facility side: charge
    kW adds to the site's grid draw, discharge kW takes from it. The round-trip efficiency is
    split evenly: √efficiency is lost charging and √efficiency discharging."""

    kwh: float
    """Usable capacity, kWh (> 0)."""
    kw: float
    """Maximum charge and discharge power, kW facility side (≥ 0; 0 = never used)."""
    efficiency: float = 0.9
    """Round-trip efficiency, in (0, 1]."""
    min_soc: float = 0.0
    """Lowest state of charge, fraction of `kwh` (a reserve, e.g. for outages)."""
    initial_soc: float = 0.5
    """State of charge at the start of the first plan, fraction of `kwh` (≥ `min_soc`)."""

    @property
    def one_way_efficiency(self) -> float:
        """√efficiency: kWh stored per kWh charged, and kWh delivered per kWh stored."""
        return math.sqrt(self.efficiency)

    @property
    def min_kwh(self) -> float:
        """Lowest state of charge, kWh."""
        return self.min_soc * self.kwh

    @property
    def initial_kwh(self) -> float:
        """State of charge at the start of the first plan, kWh."""
        return self.initial_soc * self.kwh

"""`Site`: one data-centre site the planner may place jobs on."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from policies.battery import Battery


@dataclass(frozen=True)
class PueModel:
    """PUE as a function of outdoor temperature: base + per_degc × max(0, T − above_degc)."""

    base: float
    """PUE at or below `above_degc` (dimensionless, ≥ 1)."""
    per_degc: float = 0.0
    """PUE increase per °C of outdoor temperature above `above_degc`."""
    above_degc: float = 0.0
    """Temperature (°C) above which PUE rises."""

    def pue(self, temperature_c: np.ndarray | None, n_slots: int) -> np.ndarray:
        """PUE per slot; a constant `base` where no temperature is known."""
        if temperature_c is None or self.per_degc == 0.0:
            return np.full(n_slots, self.base)
        t = np.nan_to_num(np.asarray(temperature_c, dtype=float), nan=self.above_degc)
        return self.base + self.per_degc * np.maximum(0.0, t - self.above_degc)


@dataclass(frozen=True)
class Site:
    """A data-centre site in one grid region."""

    id: str
    region: str
    """Grid region whose forecast applies (the `region` column of forecast.csv)."""
    gpus: int
    """GPUs available to managed jobs."""
    power_cap_kw: float
    """Cap on facility power drawn from the grid (IT kW × PUE + battery charge − discharge),
    kW."""
    pue: PueModel
    curtailment_share: float = 0.0
    """Fraction (0–1) of its region's curtailed power this site may absorb."""
    certificate_share: float = 0.0
    """Fraction (0–1) of its grid energy covered by renewable-energy certificates: counted
    zero-carbon in market-based accounting only (location-based ignores it)."""
    residency: tuple[str, ...] = ()
    """Data-residency tags (e.g. `jp`, `gov-approved`)."""
    home: bool = False
    """The default home site of jobs that name none."""
    node_selector: Mapping[str, str] = field(default_factory=dict)
    """Kubernetes node labels that identify this site's nodes."""
    battery: Battery | None = None
    """A stationary battery behind the site's meter (None: none)."""

"""`Forecast`: per-slot grid signals for one region."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import numpy as np
import pandas as pd

ALLOWED_SLOT_MINUTES = (15, 30, 60)


def slot_seconds(idx: pd.DatetimeIndex) -> np.ndarray:
    """Gaps between consecutive timestamps, whole seconds (any datetime resolution)."""
    return np.diff(idx.as_unit("ns").asi8) // 10**9


SERIES = ("carbon_gco2_per_kwh", "curtailment_mw", "curtailment_probability",
          "marginal_gco2_per_kwh", "price_jpy_per_kwh", "temperature_c")
"""The per-slot arrays of a `Forecast` (the optional ones may be None)."""


@dataclass(frozen=True)
class Forecast:
    """Grid signals for one region on a uniform slot grid (slot starts are tz-aware UTC)."""

    region: str
    slot_starts: pd.DatetimeIndex
    """Start of each slot, tz-aware UTC, uniformly spaced by `slot_minutes`."""
    slot_minutes: int
    carbon_gco2_per_kwh: np.ndarray
    """Average (location-based) carbon intensity, gCO2/kWh."""
    curtailment_mw: np.ndarray
    """Renewable output curtailed in the region, MW (slot average)."""
    curtailment_probability: np.ndarray | None = None
    """Probability (0–1) that the slot curtails at all, where `curtailment_mw` is then the
    amount it curtails; None: `curtailment_mw` is the amount for certain (a single reading)."""
    marginal_gco2_per_kwh: np.ndarray | None = None
    """Marginal carbon intensity, gCO2/kWh, where known."""
    price_jpy_per_kwh: np.ndarray | None = None
    temperature_c: np.ndarray | None = None
    """Outdoor temperature at the region's sites, °C (drives the PUE model)."""
    quantiles: Mapping[str, np.ndarray] = field(default_factory=dict)
    """Optional quantile series keyed like `carbon_gco2_per_kwh_p10`."""
    issued_at: datetime | None = None
    source: str = "unknown"
    stale: bool = False
    """True when a provider failed and this is the last good forecast."""

    def __post_init__(self) -> None:
        idx = self.slot_starts
        if not isinstance(idx, pd.DatetimeIndex) or idx.tz is None:
            raise ValueError(f"Forecast {self.region}: slot_starts must be a tz-aware index")
        if str(idx.tz) != "UTC":
            object.__setattr__(self, "slot_starts", idx.tz_convert(UTC))
        n = len(idx)
        for name in SERIES:
            arr = getattr(self, name)
            if arr is None:
                continue
            arr = np.asarray(arr, dtype=float)
            if arr.shape != (n,):
                raise ValueError(f"Forecast {self.region}: {name} has {arr.shape}, want ({n},)")
            object.__setattr__(self, name, arr)
        if self.slot_minutes not in ALLOWED_SLOT_MINUTES:
            raise ValueError(f"Forecast {self.region}: slot_minutes={self.slot_minutes}")
        if n > 1 and not (slot_seconds(idx) == self.slot_minutes * 60).all():
            raise ValueError(f"Forecast {self.region}: slots are not uniform")

    @property
    def slot_h(self) -> float:
        """Slot length, hours."""
        return self.slot_minutes / 60.0

    @property
    def end(self) -> pd.Timestamp:
        """End of the last slot (UTC)."""
        return self.slot_starts[-1] + pd.Timedelta(minutes=self.slot_minutes)

    def select(self, keep: np.ndarray | slice) -> Forecast:
        """The slots where the boolean mask `keep` is True (or in the slice `keep`), with
        every series and quantile."""
        series = {n: np.asarray(getattr(self, n))[keep] for n in SERIES
                  if getattr(self, n) is not None}
        return replace(self, slot_starts=self.slot_starts[keep],
                       quantiles={k: np.asarray(v)[keep] for k, v in self.quantiles.items()},
                       **series)


def _at(fc: Forecast, name: str, q: float, point: np.ndarray | None) -> np.ndarray | None:
    """Signal `name` of `fc` at quantile `q`; the point values where it has no such quantile
    or it is NaN."""
    series = fc.quantiles.get(f"{name}_p{round(q * 100):02d}")
    if point is None or series is None:
        return point
    series = np.asarray(series, dtype=float)
    return np.where(np.isfinite(series), series, point)


def at_quantile(fc: Forecast, q: float) -> Forecast:
    """`fc` as a planner at risk level `q` reads it: carbon intensity (average and marginal)
    at quantile `q` and curtailment at quantile `1 − q` — `q = 0.9` plans on a dirtier grid
    with less curtailment than expected (risk-averse), `0.5` on the median. Where the
    forecast has no such quantile, or it is NaN, the point value stands."""
    if not 0.0 < q < 1.0:
        raise ValueError(f"risk quantile {q!r} must be in (0, 1)")
    return replace(fc,
                   carbon_gco2_per_kwh=_at(fc, "carbon_gco2_per_kwh", q, fc.carbon_gco2_per_kwh),
                   marginal_gco2_per_kwh=_at(fc, "marginal_gco2_per_kwh", q,
                                             fc.marginal_gco2_per_kwh),
                   curtailment_mw=_at(fc, "curtailment_mw", 1.0 - q, fc.curtailment_mw),
                   curtailment_probability=None)  # the quantile, read as certain


SWANSON_WEIGHTS = (0.3, 0.4, 0.3)
"""Weights of p10, p50 and p90 in Swanson's rule, the usual three-point estimate of a
distribution's mean from those quantiles."""


def expected_value(fc: Forecast) -> Forecast:
    """`fc` as a risk-neutral planner reads it: each signal at its expected value, estimated
    from p10, p50 (the point value) and p90 by Swanson's rule — the three quantiles standing
    for a distribution that takes each with probability 0.3, 0.4 and 0.3. Curtailment is read
    as that distribution's chance of curtailing at all (`curtailment_probability`) and its
    mean amount when it does: the zero-carbon energy a site can count is min(its load,
    curtailment), whose expectation is not min(load, expected curtailment) — that would
    count a slot curtailing with probability 0.3 as zero-carbon for certain, up to 0.3 of
    the amount. Signals without both quantiles keep their point values."""

    def have(name: str) -> bool:
        return {f"{name}_p10", f"{name}_p90"} <= fc.quantiles.keys()

    def points(name: str, point: np.ndarray) -> list[np.ndarray]:
        """p10, the point value (p50) and p90 (the point value where one is missing)."""
        return [np.asarray(_at(fc, name, 0.1, point), dtype=float),
                np.asarray(point, dtype=float), np.asarray(_at(fc, name, 0.9, point), dtype=float)]

    def mean(name: str, point: np.ndarray | None) -> np.ndarray | None:
        if point is None or not have(name):
            return point
        return sum(w * v for w, v in zip(SWANSON_WEIGHTS, points(name, point), strict=True))

    curtailment, probability = fc.curtailment_mw, fc.curtailment_probability
    if have("curtailment_mw"):
        values = points("curtailment_mw", fc.curtailment_mw)
        expected = mean("curtailment_mw", fc.curtailment_mw)
        chance = sum(w * (v > 0) for w, v in zip(SWANSON_WEIGHTS, values, strict=True))
        probability = np.where(np.isnan(expected), np.nan, chance)  # unknown stays unknown
        with np.errstate(divide="ignore", invalid="ignore"):
            curtailment = np.where(probability > 0, expected / probability, expected * 0.0)
    return replace(fc, carbon_gco2_per_kwh=mean("carbon_gco2_per_kwh", fc.carbon_gco2_per_kwh),
                   marginal_gco2_per_kwh=mean("marginal_gco2_per_kwh",
                                              fc.marginal_gco2_per_kwh),
                   curtailment_mw=curtailment, curtailment_probability=probability)

"""Site batteries on the slot grid: their parameters as arrays, and the state of charge a
charge/discharge schedule gives.

Model (the same in both MILP builders, the dispatch LP and `violations`), per site s with a
battery and slot t (h = slot hours, η = round-trip efficiency, split evenly):

    soc[t] = soc[t−1] + √η · h · charge_kw[t] − h / √η · discharge_kw[t]   (soc[−1] = start)
    min_kwh ≤ soc[t] ≤ kwh,   0 ≤ charge_kw[t], discharge_kw[t] ≤ kw,   soc[T−1] ≥ start
    charge_kw[t] = 0 or discharge_kw[t] = 0   (a binary per slot in the MILP)

`soc[t]` is the state of charge at the *end* of slot t. The end rule keeps a plan from
borrowing energy it does not pay back inside its horizon; the one-direction rule keeps it
from burning energy in losses (charging and discharging at once) where energy is worth
less than nothing (a curtailment reward, a negative price, a minimum limit). The site's grid draw is
IT kW × PUE + charge_kw − discharge_kw (≥ 0: no export).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from inputs.errors import InputError
from policies.site import Site

NOISE_KW = 1e-7
"""Charge or discharge below this in a solver's answer is noise, read as none."""


def clean_kw(values: np.ndarray, kw: np.ndarray | float) -> np.ndarray:
    """A solver's charge or discharge kW clipped into [0, kw], noise read as 0."""
    v = np.clip(values, 0.0, kw)
    return np.where(v > NOISE_KW, v, 0.0)


@dataclass(frozen=True)
class Batteries:
    """Per-site battery parameters (S,), zeros where a site has none."""

    kwh: np.ndarray
    """Capacity, kWh."""
    kw: np.ndarray
    """Maximum charge and discharge power, kW facility side."""
    one_way: np.ndarray
    """√(round-trip efficiency): kWh stored per kWh charged, delivered per kWh stored."""
    min_kwh: np.ndarray
    """Lowest state of charge, kWh."""
    start_kwh: np.ndarray
    """State of charge at the horizon start, kWh (the end of the horizon must reach it)."""

    @property
    def present(self) -> np.ndarray:
        """(S,) bool: the site has a battery that can move energy."""
        return (self.kwh > 0) & (self.kw > 0)

    def scaled(self, share: float) -> Batteries:
        """`share` of every battery (a part of the problem with a share of every capacity)."""
        return Batteries(self.kwh * share, self.kw * share, self.one_way,
                         self.min_kwh * share, self.start_kwh * share)


def site_batteries(sites: Sequence[Site], start_kwh: Mapping[str, float] | None = None
                   ) -> Batteries | None:
    """The sites' batteries as arrays (None when no site has one). `start_kwh`: site id →
    state of charge at the horizon start (the live state, e.g. the previous plan's), clipped
    into [min, capacity]; default the site's `initial_soc`."""
    if not any(s.battery is not None for s in sites):
        return None
    given = dict(start_kwh or {})
    S = len(sites)
    kwh, kw, one_way, low, start = (np.zeros(S), np.zeros(S), np.ones(S), np.zeros(S),
                                    np.zeros(S))
    for i, s in enumerate(sites):
        b = s.battery
        if b is None:
            continue
        kwh[i], kw[i], one_way[i], low[i] = b.kwh, b.kw, b.one_way_efficiency, b.min_kwh
        soc = given.get(s.id, b.initial_kwh)
        if not np.isfinite(soc):
            raise InputError(f"site {s.id}", "battery state of charge", soc, "must be a number")
        start[i] = min(max(float(soc), b.min_kwh), b.kwh)
    return Batteries(kwh, kw, one_way, low, start)


def soc_kwh(b: Batteries, charge_kw: np.ndarray, discharge_kw: np.ndarray, slot_h: float
            ) -> np.ndarray:
    """(S, T) state of charge at the end of each slot for a charge/discharge schedule."""
    step = (b.one_way[:, None] * charge_kw - discharge_kw / b.one_way[:, None]) * slot_h
    return b.start_kwh[:, None] + np.cumsum(step, axis=1)

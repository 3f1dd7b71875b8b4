"""`build_problem()`: sites + jobs + forecasts + policy → plain arrays on one slot grid.

Indices: s = site (S), t = slot (T), j = job (J). Slot t covers
[slot_starts[t], slot_starts[t] + slot_h). A job occupies whole slots: its IT kW counts in
every slot it runs in (the accounting of the plan and of the simulator).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from forecasts.forecast import Forecast
from inputs.errors import InputError
from policies.job import Job, Latency
from policies.policy import CarbonSignal, Policy
from policies.site import Site


@dataclass(frozen=True)
class Problem:
    """Everything a planner needs, as arrays. Built once; read by every method."""

    sites: tuple[Site, ...]
    jobs: tuple[Job, ...]
    policy: Policy
    slot_starts: pd.DatetimeIndex
    """Slot starts of the horizon, tz-aware UTC."""
    slot_h: float
    # site × slot (S, T)
    pue: np.ndarray
    carbon_gco2_per_kwh: np.ndarray
    """Average intensity: what plans are accounted with."""
    objective_gco2_per_kwh: np.ndarray
    """Intensity the objective uses (average or marginal, by policy)."""
    zero_carbon_cap_kwh: np.ndarray
    """curtailment_share × curtailment_mw × 1000 × slot_h: facility kWh counted zero-carbon."""
    price_jpy_per_kwh: np.ndarray
    it_cap_kw: np.ndarray
    """IT kW allowed: power_cap_kw / PUE."""
    gpu_cap: np.ndarray
    """GPUs available per site and slot."""
    # per job (J,)
    it_kw: np.ndarray
    gpus: np.ndarray
    dur_slots: np.ndarray
    release_slot: np.ndarray
    """First slot the job may run in."""
    deadline_slot: np.ndarray
    """The job must have finished by the start of this slot (may exceed T−1)."""
    allowed: np.ndarray
    """(J, S) bool: the job may run on the site."""
    home: np.ndarray
    """(J,) site index of the job's home site (the carbon-agnostic baseline's choice)."""
    checkpointable: np.ndarray
    overhead_slots: int
    """Extra run slots per resume of a checkpointable job."""

    @property
    def n_slots(self) -> int:
        return len(self.slot_starts)

    @property
    def impossible(self) -> np.ndarray:
        """(J,) bool: release + duration already ends after the deadline."""
        return self.release_slot + self.dur_slots > self.deadline_slot

    def part(self, jobs: np.ndarray, share: float) -> Problem:
        """The problem of `jobs` (indices) alone on `share` of every site's GPUs, power cap
        and zero-carbon energy: plans of parts whose shares sum to 1 add up to a plan of
        the whole (used to split very large instances)."""
        return self._subset(jobs, self.gpu_cap * share, self.it_cap_kw * share,
                            self.zero_carbon_cap_kwh * share)

    def residual(self, jobs: np.ndarray, it_kw: np.ndarray, gpus: np.ndarray) -> Problem:
        """The problem of `jobs` (indices) in the room other jobs leave: GPUs, IT kW and
        zero-carbon kWh left beside their loads `it_kw` and `gpus` (S, T). A plan's
        objective is the others' objective plus the residual plan's, exactly."""
        return self._subset(jobs, np.maximum(0.0, self.gpu_cap - gpus),
                            np.maximum(0.0, self.it_cap_kw - it_kw),
                            np.maximum(0.0, self.zero_carbon_cap_kwh
                                       - it_kw * self.pue * self.slot_h))

    def _subset(self, jobs: np.ndarray, gpu_cap: np.ndarray, it_cap_kw: np.ndarray,
                zero_carbon_cap_kwh: np.ndarray) -> Problem:
        return dataclasses.replace(
            self, jobs=tuple(self.jobs[j] for j in jobs), it_kw=self.it_kw[jobs],
            gpus=self.gpus[jobs], dur_slots=self.dur_slots[jobs],
            release_slot=self.release_slot[jobs], deadline_slot=self.deadline_slot[jobs],
            allowed=self.allowed[jobs], home=self.home[jobs],
            checkpointable=self.checkpointable[jobs], gpu_cap=gpu_cap, it_cap_kw=it_cap_kw,
            zero_carbon_cap_kwh=zero_carbon_cap_kwh)

    def cost_per_kwh(self) -> np.ndarray:
        """(S, T) objective points per facility kWh before the zero-carbon credit."""
        p = self.policy
        return (p.carbon_weight_per_kg * self.objective_gco2_per_kwh / 1000.0
                + p.cost_weight_per_jpy * self.price_jpy_per_kwh)

    def credit_per_zero_kwh(self) -> np.ndarray:
        """(S, T) objective points saved per facility kWh counted zero-carbon."""
        p = self.policy
        return p.carbon_weight_per_kg * self.objective_gco2_per_kwh / 1000.0 \
            + p.curtailment_reward_per_kwh

    def lateness_points(self, end_slot: np.ndarray, j: int | np.ndarray) -> np.ndarray:
        """Points for finishing at `end_slot` (exclusive) given the job's deadline slot."""
        late_slots = np.maximum(0, end_slot - self.deadline_slot[j])
        return self.policy.lateness_penalty_per_h * late_slots * self.slot_h


def _slot_minutes(forecasts: Sequence[Forecast]) -> int:
    minutes = {fc.slot_minutes for fc in forecasts}
    if len(minutes) != 1:
        raise InputError("forecast", "slot length", sorted(minutes),
                         "all regions must use the same slot length")
    return minutes.pop()


def _allowed_sites(job: Job, sites: Sequence[Site]) -> np.ndarray:
    src = f"job {job.id}"
    ids = [s.id for s in sites]
    mask = np.zeros(len(sites), dtype=bool)
    if job.allowed_sites:
        for token in job.allowed_sites:
            hit = np.array([s.id == token or token in s.residency for s in sites])
            if not hit.any():
                raise InputError(src, "allowed_sites", token,
                                 f"matches no site id or residency tag (sites: {', '.join(ids)})")
            mask |= hit
    else:
        mask[:] = True
    return mask


def _home_site(job: Job, sites: Sequence[Site], allowed: np.ndarray) -> int:
    ids = [s.id for s in sites]
    if job.home_site is not None:
        if job.home_site not in ids:
            raise InputError(f"job {job.id}", "home_site", job.home_site,
                             f"unknown site (sites: {', '.join(ids)})")
        return ids.index(job.home_site)
    homes = [i for i, s in enumerate(sites) if s.home and allowed[i]]
    if homes:
        return homes[0]
    if job.latency is Latency.CRITICAL:
        raise InputError(f"job {job.id}", "home_site", None,
                         "a latency-critical job needs a home site (column or a home: true site)")
    return int(np.flatnonzero(allowed)[0])


def _horizon(jobs: Sequence[Job], fcs: Sequence[Forecast], slot_minutes: int
             ) -> pd.DatetimeIndex:
    start = max(fc.slot_starts[0] for fc in fcs)
    end = min(fc.end for fc in fcs)
    needed = max(max(j.deadline, j.release + pd.Timedelta(hours=j.duration_h)) for j in jobs)
    needed_ts = pd.Timestamp(needed)
    if needed_ts > end:
        late = max(jobs, key=lambda j: max(j.deadline, j.release
                                           + pd.Timedelta(hours=j.duration_h)))
        short = min(fcs, key=lambda fc: fc.end)
        raise InputError("forecast", f"region {short.region} end", short.end.isoformat(),
                         f"does not cover the horizon: job {late.id} needs it until "
                         f"{needed_ts.isoformat()}")
    slack = pd.Timedelta(hours=max(j.duration_h for j in jobs))
    last = min(end, needed_ts + slack)
    n = math.ceil((last - start) / pd.Timedelta(minutes=slot_minutes) - 1e-9)
    if n <= 0:
        raise InputError("forecast", "start", start.isoformat(), "starts after every deadline")
    return pd.date_range(start, periods=n, freq=f"{slot_minutes}min")


def _on_grid(fc: Forecast, grid: pd.DatetimeIndex, name: str) -> np.ndarray | None:
    arr = getattr(fc, name)
    if arr is None:
        return None
    series = pd.Series(arr, index=fc.slot_starts).reindex(grid)
    if series.isna().any():
        gap = grid[np.flatnonzero(series.isna().to_numpy())[0]]
        raise InputError("forecast", f"region {fc.region} {name}", gap.isoformat(),
                         "missing slot (regions must share one slot grid)")
    return series.to_numpy(dtype=float)


def build_problem(sites: Sequence[Site], jobs: Sequence[Job],
                  forecasts: Mapping[str, Forecast], policy: Policy) -> Problem:
    """Validate the inputs against each other and lay them on one slot grid."""
    if not jobs:
        raise InputError("jobs", "rows", 0, "no jobs to plan")
    regions = sorted({s.region for s in sites})
    for s in sites:
        if s.region not in forecasts:
            raise InputError(f"site {s.id}", "region", s.region,
                             f"no forecast for it (forecast regions: {', '.join(forecasts)})")
    fcs = [forecasts[r] for r in regions]
    slot_minutes = _slot_minutes(fcs)
    slot_h = slot_minutes / 60.0
    grid = _horizon(jobs, fcs, slot_minutes)
    T = len(grid)
    by_region: dict[str, dict[str, np.ndarray | None]] = {}
    for fc in fcs:
        cols = {n: _on_grid(fc, grid, n) for n in ("carbon_gco2_per_kwh", "curtailment_mw",
                "marginal_gco2_per_kwh", "price_jpy_per_kwh", "temperature_c")}
        by_region[fc.region] = cols

    def per_site(name: str, default: float = 0.0) -> np.ndarray:
        out = np.full((len(sites), T), default)
        for i, s in enumerate(sites):
            col = by_region[s.region][name]
            if col is not None:
                out[i] = col
        return out

    carbon = per_site("carbon_gco2_per_kwh")
    objective_ci = carbon
    if policy.carbon_signal is CarbonSignal.MARGINAL:
        marginal = per_site("marginal_gco2_per_kwh", np.nan)
        objective_ci = np.where(np.isnan(marginal), carbon, marginal)
    pue = np.stack([s.pue.pue(by_region[s.region]["temperature_c"], T) for s in sites])
    share = np.array([s.curtailment_share for s in sites])[:, None]
    cap_kw = np.array([s.power_cap_kw for s in sites])[:, None]

    h0 = grid[0]
    slot = pd.Timedelta(minutes=slot_minutes)
    rel = np.array([max(0, math.ceil((pd.Timestamp(j.release) - h0) / slot - 1e-9))
                    for j in jobs])
    ddl = np.array([math.floor((pd.Timestamp(j.deadline) - h0) / slot + 1e-9) for j in jobs])
    dur = np.array([max(1, math.ceil(j.duration_h / slot_h - 1e-9)) for j in jobs])
    allowed = np.zeros((len(jobs), len(sites)), dtype=bool)
    home = np.zeros(len(jobs), dtype=int)
    site_gpus = np.array([s.gpus for s in sites])
    min_pue = pue.min(axis=1)
    for i, job in enumerate(jobs):
        mask = _allowed_sites(job, sites)
        home[i] = _home_site(job, sites, mask)
        if job.latency is Latency.CRITICAL:
            mask = np.zeros(len(sites), dtype=bool)
            mask[home[i]] = True
        fits = mask & (site_gpus >= job.gpus) & (job.it_kw * min_pue <= cap_kw[:, 0] + 1e-9)
        if not fits.any():
            raise InputError(f"job {job.id}", "gpus", job.gpus,
                             f"({job.it_kw:g} kW) fits no allowed site's GPU count or power cap")
        allowed[i] = fits
        if not fits[home[i]]:
            home[i] = int(np.flatnonzero(fits)[0])
        if rel[i] + dur[i] > T:
            raise InputError(f"job {job.id}", "release", job.release.isoformat(),
                             "leaves no room to run inside the forecast horizon")
    return Problem(
        sites=tuple(sites), jobs=tuple(jobs), policy=policy, slot_starts=grid, slot_h=slot_h,
        pue=pue, carbon_gco2_per_kwh=carbon, objective_gco2_per_kwh=objective_ci,
        zero_carbon_cap_kwh=share * per_site("curtailment_mw") * 1000.0 * slot_h,
        price_jpy_per_kwh=per_site("price_jpy_per_kwh"), it_cap_kw=cap_kw / pue,
        gpu_cap=np.repeat(site_gpus[:, None], T, axis=1).astype(float),
        it_kw=np.array([j.it_kw for j in jobs]),
        gpus=np.array([j.gpus for j in jobs]), dur_slots=dur, release_slot=rel,
        deadline_slot=ddl, allowed=allowed, home=home,
        checkpointable=np.array([j.checkpointable for j in jobs]),
        overhead_slots=math.ceil(policy.restart_overhead_h / slot_h - 1e-9),
    )

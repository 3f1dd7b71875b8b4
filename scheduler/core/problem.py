"""`build_problem()`: sites + jobs + forecasts + policy (+ the live state: now, running jobs,
power limits, decisions kept from the previous plan) → plain arrays on one slot grid.

Indices: s = site (S), t = slot (T), j = job (J). Slot t covers
[slot_starts[t], slot_starts[t] + slot_h). A job occupies whole slots: its IT kW counts in
every slot it runs in (the accounting of the plan and of the simulator). Slot 0 is the slot
that contains `now` (or the forecasts' first common slot without `now`).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd

from forecasts.forecast import SERIES, Forecast
from inputs.errors import InputError
from policies.job import Job, Latency
from policies.limits import PowerLimit
from policies.policy import CarbonSignal, Policy
from policies.site import Site
from scheduler.core.battery import Batteries, site_batteries

NOT_FIXED = -1
"""`fixed_site` / `continue_site` of a job that has none."""

JOB_ARRAYS = ("it_kw", "gpus", "dur_slots", "release_slot", "deadline_slot", "allowed", "home",
              "checkpointable", "fixed_site", "fixed_start", "continue_site", "resume_slots",
              "unplaced_points", "deferrable", "unplaceable")
"""The per-job arrays of `Problem` (first axis = job), sliced together by subsets."""
OVER_CAP_PENALTY_PER_KWH = 1000.0
"""Points per kWh a battery site draws above its cap or max limit because work that cannot
move (laid down outside the problem) exceeds it: the battery discharges to cover it where
it can. (Work that can move never exceeds a cap.)"""


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
    zero_carbon_chance: np.ndarray
    """Probability (0–1) that the slot's zero-carbon energy is there (the forecast's
    `curtailment_probability`; 1 for a single reading): the credit of a zero-carbon kWh is
    weighted by it, so a plan counts the zero-carbon energy it expects."""
    price_jpy_per_kwh: np.ndarray
    facility_cap_kw: np.ndarray
    """Facility kW allowed: the power cap, or a lower `max_facility_kw` limit in the slot."""
    it_cap_kw: np.ndarray
    """IT kW allowed: facility_cap_kw / PUE."""
    min_facility_kwh: np.ndarray
    """Facility kWh a `min_facility_kw` limit asks for in the slot (0 = none; soft)."""
    gpu_cap: np.ndarray
    """GPUs available per site and slot."""
    # per job (J,)
    it_kw: np.ndarray
    gpus: np.ndarray
    dur_slots: np.ndarray
    """Slots of work still to do (duration − done, rounded up; plus the restart overhead
    of a paused checkpointable job); for work that cannot finish inside the horizon, the
    slots from its release to the horizon's end (later plans continue it)."""
    release_slot: np.ndarray
    """First slot the job may run in."""
    deadline_slot: np.ndarray
    """The job must have finished by the start of this slot (may exceed T−1)."""
    allowed: np.ndarray
    """(J, S) bool: the job may run on the site in this plan (nowhere when it is released
    after the horizon's end)."""
    home: np.ndarray
    """(J,) site index of the job's home site (the carbon-agnostic baseline's choice)."""
    checkpointable: np.ndarray
    fixed_site: np.ndarray
    """Site of a job whose decision is fixed (running and not checkpointable, or kept from
    the previous plan), else NOT_FIXED; it runs there from `fixed_start` for `dur_slots`."""
    fixed_start: np.ndarray
    continue_site: np.ndarray
    """Site a running job runs on at slot 0, else NOT_FIXED."""
    resume_slots: np.ndarray
    """Extra run slots a running checkpointable job needs unless it continues on
    `continue_site` from slot 0 (its restart overhead), else 0. (A paused one's overhead is
    in its `dur_slots`.)"""
    unplaced_points: np.ndarray
    """Points for leaving the job out of this plan: above any lateness for a job due inside
    the horizon; for a deferrable one its energy at the cost of its cheapest window in the
    horizon's average day at its best site, zero-carbon energy counted (`_deferral_points`:
    it is left for a later plan only when no window here is better than such a day
    offers)."""
    deferrable: np.ndarray
    """The job cannot be due inside the horizon (deadline after its end; for work longer
    than the horizon, latest start after its end): left out, it is deferred to a later
    plan, not late."""
    unplaceable: np.ndarray
    """The job fits no allowed site's GPU count or power cap."""
    overhead_slots: int
    """Extra run slots per resume of a checkpointable job."""
    now: pd.Timestamp | None = None
    """The planning time (None: the horizon starts where the forecasts start)."""
    forecast_issued_at: pd.Timestamp | None = None
    """Earliest issue time among the forecasts used (None when unknown)."""
    forecast_stale: bool = False
    """A forecast used is a provider's last good one, kept after a failure."""
    battery: Batteries | None = None
    """The sites' batteries (None: no site has one)."""
    base_facility_kw: np.ndarray | None = None
    """(S, T) facility kW of work laid down outside this problem at battery sites (the jobs
    a residual problem is planned beside: the battery sees the whole site); None = 0. At
    battery sites a residual keeps the zero-carbon and minimum-limit energy of the whole
    site and `facility_cap_kw` is the whole site's cap."""

    @property
    def n_slots(self) -> int:
        return len(self.slot_starts)

    @functools.cached_property
    def has_battery(self) -> np.ndarray:
        """(S,) bool: the site has a battery the plan may use."""
        if self.battery is None:
            return np.zeros(len(self.sites), dtype=bool)
        return self.battery.present

    @functools.cached_property
    def base_kw(self) -> np.ndarray:
        """(S, T) `base_facility_kw`, zeros where none."""
        if self.base_facility_kw is None:
            return np.zeros(self.pue.shape)
        return self.base_facility_kw

    def it_room_kw(self, net_kw: np.ndarray | None = None) -> np.ndarray:
        """(S, T) IT kW this problem's jobs may draw when the batteries charge `net_kw`
        (charge − discharge, facility kW; None = idle): `it_cap_kw`, and at battery sites
        (cap − work laid down outside − net charge) / PUE (negative: no room)."""
        if not self.has_battery.any():
            return self.it_cap_kw
        net = 0.0 if net_kw is None else net_kw
        with_battery = (self.facility_cap_kw - self.base_kw - net) / self.pue
        return np.where(self.has_battery[:, None], with_battery, self.it_cap_kw)

    @functools.cached_property
    def bound_site(self) -> np.ndarray:
        """(J,) the site a one-piece run of the job must use — its fixed site, else the site
        it runs on now (continuing) — or NOT_FIXED when it is free to go anywhere."""
        return np.where(self.fixed_site != NOT_FIXED, self.fixed_site, self.continue_site)

    @functools.cached_property
    def bound_start(self) -> np.ndarray:
        """(J,) the start slot that goes with `bound_site` (0 for a running job)."""
        return np.where(self.fixed_site != NOT_FIXED, self.fixed_start, 0)

    @property
    def impossible(self) -> np.ndarray:
        """(J,) bool: release + duration already ends after the deadline."""
        return self.release_slot + self.dur_slots > self.deadline_slot

    def part(self, jobs: np.ndarray, share: float) -> Problem:
        """The problem of `jobs` (indices) alone on `share` of every site's GPUs, power cap,
        zero-carbon energy, minimum limits and battery: plans of parts whose shares sum to 1
        add up to a plan of the whole (used to split very large instances)."""
        return self._subset(jobs, self.gpu_cap * share, self.it_cap_kw * share,
                            self.zero_carbon_cap_kwh * share, self.min_facility_kwh * share,
                            facility_cap_kw=self.facility_cap_kw * share,
                            battery=None if self.battery is None
                            else self.battery.scaled(share),
                            base_facility_kw=None if self.base_facility_kw is None
                            else self.base_facility_kw * share)

    def residual(self, jobs: np.ndarray, it_kw: np.ndarray, gpus: np.ndarray) -> Problem:
        """The problem of `jobs` (indices) in the room other jobs leave: GPUs, IT kW,
        zero-carbon kWh and minimum limits left beside their loads `it_kw` and `gpus` (S, T).
        A plan's objective is the others' site and job points plus the residual plan's,
        exactly. At battery sites the others' facility kW is added to `base_facility_kw`
        instead (the zero-carbon and minimum energy stay the whole site's): the battery
        then sees the whole site, and the residual objective differs from the whole's by a
        constant."""
        facility_kw = it_kw * self.pue
        facility_kwh = facility_kw * self.slot_h
        stored = self.has_battery[:, None]
        base = None
        if stored.any():
            base = self.base_kw + np.where(stored, facility_kw, 0.0)
        return self._subset(jobs, np.maximum(0.0, self.gpu_cap - gpus),
                            np.maximum(0.0, self.it_cap_kw - it_kw),
                            np.where(stored, self.zero_carbon_cap_kwh,
                                     np.maximum(0.0, self.zero_carbon_cap_kwh - facility_kwh)),
                            np.where(stored, self.min_facility_kwh,
                                     np.maximum(0.0, self.min_facility_kwh - facility_kwh)),
                            base_facility_kw=base)

    def _subset(self, jobs: np.ndarray, gpu_cap: np.ndarray, it_cap_kw: np.ndarray,
                zero_carbon_cap_kwh: np.ndarray, min_facility_kwh: np.ndarray,
                **others: object) -> Problem:
        sliced = {name: getattr(self, name)[jobs] for name in JOB_ARRAYS}
        return dataclasses.replace(
            self, jobs=tuple(self.jobs[j] for j in jobs), gpu_cap=gpu_cap, it_cap_kw=it_cap_kw,
            zero_carbon_cap_kwh=zero_carbon_cap_kwh, min_facility_kwh=min_facility_kwh,
            **sliced, **others)  # type: ignore[arg-type]

    def cost_per_kwh(self) -> np.ndarray:
        """(S, T) objective points per facility kWh before the zero-carbon credit (computed
        once; read-only)."""
        return self._per_kwh[0]

    def credit_per_zero_kwh(self) -> np.ndarray:
        """(S, T) objective points saved per facility kWh counted zero-carbon (computed
        once; read-only)."""
        return self._per_kwh[1]

    def deferral_cost_per_it_kwh(self) -> np.ndarray:
        """(S, T) objective points per IT kWh that deferred work is valued at: the cost per
        facility kWh less the zero-carbon credit on the share of a full site's energy (at its
        facility cap) that the slot's zero-carbon energy covers, times the PUE."""
        full_kwh = self.facility_cap_kw * self.slot_h
        with np.errstate(divide="ignore", invalid="ignore"):
            share = np.clip(np.nan_to_num(self.zero_carbon_cap_kwh / full_kwh), 0.0, 1.0)
        return (self.cost_per_kwh() - share * self.credit_per_zero_kwh()) * self.pue

    @functools.cached_property
    def _per_kwh(self) -> tuple[np.ndarray, np.ndarray]:
        p = self.policy
        carbon = p.carbon_weight_per_kg * self.objective_gco2_per_kwh / 1000.0
        cost = carbon + p.cost_weight_per_jpy * self.price_jpy_per_kwh
        credit = (carbon + p.curtailment_reward_per_kwh) * self.zero_carbon_chance
        for a in (cost, credit):
            a.setflags(write=False)
        return cost, credit

    @property
    def late_points_per_slot(self) -> float:
        """Points per slot a job finishes after its deadline."""
        return self.policy.lateness_penalty_per_h * self.slot_h

    def unavoidable_points(self) -> float:
        """Points every plan pays: jobs that fit no site left out, and the lateness of each
        job due in the horizon were it to run from its release (or fixed start) without a
        pause. Gaps are measured on the points above them, so a plan whose objective is
        mostly lateness no plan can avoid is not called near-optimal for its emissions."""
        start = np.where(self.fixed_site != NOT_FIXED, self.fixed_start,
                         np.maximum(self.release_slot, 0))
        late = np.where(self.deferrable, 0.0,
                        self.lateness_points(start + self.dur_slots, np.arange(len(self.jobs))))
        return float(np.where(self.unplaceable, self.unplaced_points, late).sum())

    def lateness_points(self, end_slot: np.ndarray, j: int | np.ndarray) -> np.ndarray:
        """Points for finishing at `end_slot` (exclusive) given the job's deadline slot."""
        return self.late_points_per_slot * np.maximum(0, end_slot - self.deadline_slot[j])

    def site_points(self, it_kw: np.ndarray, net_kw: np.ndarray | None = None) -> np.ndarray:
        """(S, T) objective points of site loads `it_kw` (S, T) with the batteries charging
        `net_kw` (charge − discharge kW, None = idle): emissions by the policy's signal and
        cost, less the zero-carbon credit, plus the penalty of minimum limits unmet (and, at
        battery sites, of kWh above the cap). The one definition the model builders,
        heuristics and bounds agree with."""
        facility = it_kw * self.pue * self.slot_h
        if net_kw is not None:
            facility = facility + net_kw * self.slot_h
        total = facility + self.base_kw * self.slot_h if self.base_facility_kw is not None \
            else facility
        zero = np.minimum(total, self.zero_carbon_cap_kwh)
        short = np.maximum(0.0, self.min_facility_kwh - total)
        points = (self.cost_per_kwh() * facility - self.credit_per_zero_kwh() * zero
                  + self.policy.min_limit_penalty_per_kwh * short)
        if self.has_battery.any():
            over = np.maximum(0.0, total - self.facility_cap_kw * self.slot_h)
            points = points + OVER_CAP_PENALTY_PER_KWH * np.where(self.has_battery[:, None],
                                                                  over, 0.0)
        return points

    def option_slots(self, j: int, s: int, start: int) -> int:
        """Run slots job j needs when it runs in one piece from `start` on site s: its
        remaining work, plus its restart overhead if it is a running checkpointable job
        that does not simply continue where it runs."""
        keeps_running = s == self.continue_site[j] and start == 0
        return int(self.dur_slots[j]) + (0 if keeps_running else int(self.resume_slots[j]))


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


def _running_site(job: Job, sites: Sequence[Site], allowed: np.ndarray) -> int:
    """Index of the site a running job runs on (validated against the job's sites)."""
    if job.running_site is None:
        return NOT_FIXED
    ids = [s.id for s in sites]
    if job.running_site not in ids:
        raise InputError(f"job {job.id}", "site", job.running_site,
                         f"unknown site (sites: {', '.join(ids)})")
    s = ids.index(job.running_site)
    if not allowed[s]:
        raise InputError(f"job {job.id}", "site", job.running_site,
                         "is not among the job's allowed sites (allowed_sites, residency, "
                         "latency class)")
    return s


def _horizon(jobs: Sequence[Job], fcs: Sequence[Forecast], slot_minutes: int,
             now: pd.Timestamp | None) -> pd.DatetimeIndex:
    """The slot grid from the slot containing `now` (else the forecasts' common start) to
    the forecasts' end, cut where no job needs it any more."""
    slot = pd.Timedelta(minutes=slot_minutes)
    start = max(fc.slot_starts[0] for fc in fcs)
    end = min(fc.end for fc in fcs)
    if now is not None:
        first = min(fcs, key=lambda fc: fc.slot_starts[0]).slot_starts[0]
        now_slot = first + math.floor((now - first) / slot + 1e-9) * slot
        if now_slot < start:
            late = max(fcs, key=lambda fc: fc.slot_starts[0])
            raise InputError("forecast", f"region {late.region} start", start.isoformat(),
                             f"is after --now {now.isoformat()}: the forecast must cover now")
        start = now_slot
    else:
        early = [j for j in jobs if j.running_site is None and pd.Timestamp(j.release) < start]
        if early:
            first_job = min(early, key=lambda j: j.release)
            raise InputError("forecast", "start", start.isoformat(),
                             f"is after job {first_job.id}'s release "
                             f"{pd.Timestamp(first_job.release).isoformat()}: give --now, or a "
                             "forecast that starts by the release")
    if end <= start:
        short = min(fcs, key=lambda fc: fc.end)
        raise InputError("forecast", f"region {short.region} end", short.end.isoformat(),
                         f"leaves no slot after the horizon start {start.isoformat()}")
    last = end
    if jobs:
        def need(j: Job) -> pd.Timestamp:
            rel = start if j.running_site is not None else max(start, pd.Timestamp(j.release))
            return max(pd.Timestamp(j.deadline), rel + pd.Timedelta(hours=j.remaining_h))

        slack = pd.Timedelta(hours=max(j.remaining_h for j in jobs))
        last = min(end, max(need(j) for j in jobs) + slack)
    n = max(1, math.ceil((last - start) / slot - 1e-9))
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


def _limit_arrays(limits: Sequence[PowerLimit], sites: Sequence[Site], grid: pd.DatetimeIndex,
                  slot_h: float) -> tuple[np.ndarray, np.ndarray]:
    """(facility kW cap, minimum facility kW) per site and slot from the sites' power caps
    and the limits (several limits in one slot: the tightest max, the highest min)."""
    ids = [s.id for s in sites]
    cap = np.repeat(np.array([s.power_cap_kw for s in sites], dtype=float)[:, None], len(grid),
                    axis=1)
    low = np.zeros_like(cap)
    slot = pd.Timedelta(hours=slot_h)
    for lim in limits:
        if lim.site not in ids:
            raise InputError(f"limit {lim.site} {pd.Timestamp(lim.start).isoformat()}", "site",
                             lim.site, f"unknown site (sites: {', '.join(ids)})")
        s = ids.index(lim.site)
        hit = (grid < pd.Timestamp(lim.end)) & (grid + slot > pd.Timestamp(lim.start))
        cap[s, hit] = np.minimum(cap[s, hit], lim.max_facility_kw)
        low[s, hit] = np.maximum(low[s, hit], lim.min_facility_kw)
    return cap, low


def _deferral_points(per_it_kwh: np.ndarray, allowed: np.ndarray,
                     it_kwh: np.ndarray, dur_slots: np.ndarray, slots_per_day: int
                     ) -> np.ndarray:
    """Points of deferring each job: its energy `it_kwh` (J,) at the cost per IT kWh of the
    cheapest window of its `dur_slots` (at most a day) in the horizon's average day, at its
    cheapest allowed site (`per_it_kwh`, S × T, `Problem.deferral_cost_per_it_kwh`: zero-
    carbon energy, such as absorbed curtailment, counts) — what a later plan that sees
    another day like these could place it at. (The horizon's plain average, the value
    before, made waiting look dearer than it is wherever the signal has a daily cycle: a
    later plan picks that day's clean hours, not its average. Measured on the built-in
    scenario and on April 2023, `benchmarks/decision_quality.py`.) A horizon shorter than a
    day has no average day: its average stands."""
    n_sites, n_slots = per_it_kwh.shape
    if n_slots < slots_per_day:
        site_cost = np.repeat(per_it_kwh.mean(axis=1)[None, :], len(it_kwh), axis=0)
    else:
        phase = np.arange(n_slots) % slots_per_day
        day = np.stack([np.bincount(phase, weights=row, minlength=slots_per_day)
                        for row in per_it_kwh]) / np.bincount(phase, minlength=slots_per_day)
        cum = np.concatenate([np.zeros((n_sites, 1)),
                              np.cumsum(np.hstack([day, day]), axis=1)], axis=1)
        d = np.clip(dur_slots, 1, slots_per_day)
        site_cost = np.empty((len(it_kwh), n_sites))
        for n in np.unique(d):  # cheapest mean cost of an n-slot window, wrapping midnight
            windows = (cum[:, n:n + slots_per_day] - cum[:, :slots_per_day]) / n
            site_cost[d == n] = windows.min(axis=1)
    best = np.where(allowed, site_cost, np.inf).min(axis=1, initial=np.inf)
    return it_kwh * np.where(np.isfinite(best), best, 0.0)


def _fixed_decisions(jobs: Sequence[Job], site_ids: list[str],
                     keep: Mapping[str, tuple[str, datetime]], pinned: np.ndarray,
                     allowed: np.ndarray, dur: np.ndarray, grid: pd.DatetimeIndex,
                     slot: pd.Timedelta) -> tuple[np.ndarray, np.ndarray]:
    """(fixed site, fixed start slot) per job: the `pinned` running jobs at slot 0, and the
    decisions to `keep` whose site is allowed and whose run still lies on the grid."""
    site, start = pinned.copy(), np.zeros(len(jobs), dtype=int)
    for i, job in enumerate(jobs):
        decision = keep.get(job.id)
        if decision is None or site[i] != NOT_FIXED or decision[0] not in site_ids:
            continue
        s, k = site_ids.index(decision[0]), (pd.Timestamp(decision[1]) - grid[0]) / slot
        if k == round(k) and k >= 0 and k + dur[i] <= len(grid) and allowed[i, s]:
            site[i], start[i] = s, round(k)
    return site, start


def build_problem(sites: Sequence[Site], jobs: Sequence[Job],
                  forecasts: Mapping[str, Forecast], policy: Policy, *,
                  now: datetime | None = None, limits: Sequence[PowerLimit] = (),
                  fixed: Mapping[str, tuple[str, datetime]] | None = None,
                  battery_soc_kwh: Mapping[str, float] | None = None) -> Problem:
    """Validate the inputs against each other and lay them on one slot grid.

    `now`: the horizon starts at the slot containing it; pending jobs are released at
    `max(release, now)`; jobs with `running_site` run there at `now`. `limits`: facility-kW
    bounds in time windows. `fixed`: job id → (site id, start) of decisions to keep (the
    previous plan's near-term starts); ignored where the start is no longer in the horizon.
    `battery_soc_kwh`: site id → its battery's state of charge at the horizon start, kWh
    (default the site's `initial_soc`).
    """
    regions = sorted({s.region for s in sites})
    for s in sites:
        if s.region not in forecasts:
            raise InputError(f"site {s.id}", "region", s.region,
                             f"no forecast for it (forecast regions: {', '.join(forecasts)})")
    fcs = [forecasts[r] for r in regions]
    slot_minutes = _slot_minutes(fcs)
    slot_h = slot_minutes / 60.0
    now_ts = None if now is None else pd.Timestamp(now).tz_convert("UTC")
    grid = _horizon(jobs, fcs, slot_minutes, now_ts)
    T = len(grid)
    by_region = {fc.region: {n: _on_grid(fc, grid, n) for n in SERIES} for fc in fcs}

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
    facility_cap, min_kw = _limit_arrays(limits, sites, grid, slot_h)

    h0 = grid[0]
    slot = pd.Timedelta(minutes=slot_minutes)
    J = len(jobs)
    rel = np.array([0 if j.running_site is not None else
                    max(0, math.ceil((pd.Timestamp(j.release) - h0) / slot - 1e-9))
                    for j in jobs], dtype=int)
    ddl = np.array([math.floor((pd.Timestamp(j.deadline) - h0) / slot + 1e-9) for j in jobs],
                   dtype=int)
    dur = np.array([max(1, math.ceil(j.remaining_h / slot_h - 1e-9)) for j in jobs], dtype=int)
    allowed = np.zeros((J, len(sites)), dtype=bool)
    home = np.zeros(J, dtype=int)
    running = np.full(J, NOT_FIXED)
    site_gpus = np.array([s.gpus for s in sites])
    # a battery may carry a job above the cap for a while
    cap_kw = np.array([s.power_cap_kw + (s.battery.kw if s.battery is not None else 0.0)
                       for s in sites])
    min_pue = pue.min(axis=1)
    for i, job in enumerate(jobs):
        mask = _allowed_sites(job, sites)
        home[i] = _home_site(job, sites, mask)
        if job.latency is Latency.CRITICAL:
            mask = np.zeros(len(sites), dtype=bool)
            mask[home[i]] = True
        running[i] = _running_site(job, sites, mask)
        fits = mask & (site_gpus >= job.gpus) & (job.it_kw * min_pue <= cap_kw + 1e-9)
        if running[i] != NOT_FIXED:
            fits[running[i]] = True  # it runs there now
        allowed[i] = fits
        if fits.any() and not fits[home[i]]:
            home[i] = int(np.flatnonzero(fits)[0])
    ckpt = np.array([j.checkpointable for j in jobs], dtype=bool)
    overhead = math.ceil(policy.restart_overhead_h / slot_h - 1e-9)
    # a paused job (work done, not running) restarts from its checkpoint: one overhead more
    paused = np.array([j.done_h > 0 and j.running_site is None for j in jobs], dtype=bool)
    dur = dur + np.where(paused & ckpt, overhead, 0)
    # work that cannot finish inside the horizon runs from its release to the horizon's end
    # (the rest is planned by later plans); it may wait only while its latest start lies
    # beyond the horizon
    beyond = rel + dur > T
    latest_start = ddl - dur
    deferrable = np.where(beyond, latest_start >= T, ddl > T)
    dur = np.where(beyond, np.maximum(1, T - rel), dur)
    # a job released after the horizon's end (a queue holding next week's jobs) has no slot
    # here: it runs nowhere in this plan (deferred, at no points) and waits for one whose
    # horizon reaches its release
    unreleased = rel >= T
    unplaceable = ~allowed.any(axis=1)
    allowed[unreleased] = False
    deferrable |= unreleased
    fixed_site, fixed_start = _fixed_decisions(jobs, [s.id for s in sites], fixed or {},
                                               np.where(~ckpt, running, NOT_FIXED), allowed,
                                               dur, grid, slot)
    it_kw = np.array([j.it_kw for j in jobs], dtype=float)
    issued = [pd.Timestamp(fc.issued_at) for fc in fcs if fc.issued_at is not None]
    p = Problem(
        sites=tuple(sites), jobs=tuple(jobs), policy=policy, slot_starts=grid, slot_h=slot_h,
        pue=pue, carbon_gco2_per_kwh=carbon, objective_gco2_per_kwh=objective_ci,
        zero_carbon_cap_kwh=share * per_site("curtailment_mw") * 1000.0 * slot_h,
        zero_carbon_chance=per_site("curtailment_probability", 1.0),
        price_jpy_per_kwh=per_site("price_jpy_per_kwh"), facility_cap_kw=facility_cap,
        it_cap_kw=facility_cap / pue, min_facility_kwh=min_kw * slot_h,
        gpu_cap=np.repeat(site_gpus[:, None], T, axis=1).astype(float),
        it_kw=it_kw, gpus=np.array([j.gpus for j in jobs], dtype=int), dur_slots=dur,
        release_slot=rel, deadline_slot=ddl, allowed=allowed, home=home, checkpointable=ckpt,
        fixed_site=fixed_site, fixed_start=fixed_start, continue_site=running,
        resume_slots=np.where(ckpt & (running != NOT_FIXED), overhead, 0),
        unplaced_points=np.zeros(J), deferrable=deferrable, unplaceable=unplaceable,
        overhead_slots=overhead, now=now_ts,
        forecast_issued_at=min(issued) if issued else None,
        forecast_stale=any(fc.stale for fc in fcs),
        battery=site_batteries(sites, battery_soc_kwh),
    )
    # a running checkpointable job left out pauses: it pays its restart overhead later
    later = dur + p.resume_slots
    deferral = _deferral_points(p.deferral_cost_per_it_kwh(), allowed, it_kw * later * slot_h,
                                later, round(24 / slot_h))
    return dataclasses.replace(p, unplaced_points=np.where(
        deferrable, deferral, policy.lateness_penalty_per_h * T * slot_h))

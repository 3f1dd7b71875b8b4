"""Re-planning from a live state against exhaustive enumeration scored by its own accounting.

The brute force here reads the input objects (sites, jobs, forecasts, limits, policy)
directly — PUE from temperature, the marginal signal, curtailment, running jobs, limits —
and shares no code with `build_problem`, `evaluate` or `violations`, so a bug in the
problem arrays shows up as a disagreement.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import pytest

import scheduler.core.solve as solve_module
from forecasts.forecast import Forecast
from policies.job import Job, Latency
from policies.limits import PowerLimit
from policies.policy import CarbonSignal, Policy, load_policy
from policies.site import PueModel, Site
from scheduler.core.planner import PlanConfig, Planner
from scheduler.core.problem import build_problem
from scheduler.core.solve import Builder, Method, solve

T0 = pd.Timestamp("2026-05-03T00:00:00Z")
SLOT = pd.Timedelta(hours=1)


@dataclass(frozen=True)
class State:
    sites: list[Site]
    jobs: list[Job]
    forecasts: dict[str, Forecast]
    limits: list[PowerLimit]
    policy: Policy
    now: pd.Timestamp


def live_state(seed: int, policy: Policy) -> State:
    """2 sites × 4 one-hour slots from `now`, up to 3 jobs, some running, random limits."""
    rng = np.random.default_rng(seed)
    n = 4  # forecast slots; now falls inside the first, so the horizon has all 4
    idx = pd.date_range(T0, periods=n, freq="60min")
    fcs = {r: Forecast(region=r, slot_starts=idx, slot_minutes=60,
                       carbon_gco2_per_kwh=rng.uniform(200, 700, n),
                       curtailment_mw=rng.choice([0.0, 0.3, 0.8], n),
                       marginal_gco2_per_kwh=rng.uniform(300, 900, n),
                       price_jpy_per_kwh=rng.uniform(10, 25, n),
                       temperature_c=rng.uniform(10, 35, n))
           for r in ("chugoku", "tokyo")}
    sites = [Site("matsue", "chugoku", int(rng.integers(3, 6)), 9.0,
                  PueModel(1.2, float(rng.choice([0.0, 0.01])), 20.0),
                  curtailment_share=float(rng.choice([0.0, 0.005]))),
             Site("shiroi", "tokyo", int(rng.integers(3, 6)), 9.0, PueModel(1.3, 0.008, 18.0),
                  home=True)]
    now = T0 + pd.Timedelta(minutes=int(rng.integers(0, 60)))
    h0 = T0  # the slot containing now
    jobs = []
    for i in range(int(rng.integers(2, 4))):
        dur = int(rng.integers(1, 3))
        ckpt = bool(rng.random() < 0.4)
        is_running = rng.random() < 0.4
        critical = rng.random() < 0.1
        site = (str(rng.choice(["matsue", "shiroi"])) if not critical else "shiroi") \
            if is_running else None
        done = float(rng.choice([0.0, 0.5])) if is_running else 0.0
        rel = h0 - SLOT if is_running else h0 + int(rng.integers(0, 2)) * SLOT
        ddl = h0 + int(rng.integers(dur, 6)) * SLOT  # 5: due after the horizon
        jobs.append(Job(f"j{i}", int(rng.integers(1, 3)), float(rng.choice([0.8, 1.0])),
                        dur + done, rel.to_pydatetime(), ddl.to_pydatetime(),
                        Latency.CRITICAL if critical else Latency.TOLERANT,
                        checkpointable=ckpt, running_site=site, done_h=done))
    limits = []
    if rng.random() < 0.6:
        k = int(rng.integers(0, 3))
        limits.append(PowerLimit(str(rng.choice(["matsue", "shiroi"])),
                                 (h0 + k * SLOT).to_pydatetime(),
                                 (h0 + (k + 2) * SLOT).to_pydatetime(),
                                 max_facility_kw=float(rng.choice([0.0, 1.5, 3.0]))))
    if rng.random() < 0.4:
        limits.append(PowerLimit("matsue", (h0 + SLOT).to_pydatetime(),
                                 (h0 + 2 * SLOT).to_pydatetime(), min_facility_kw=2.0))
    pol = replace(policy, restart_overhead_h=float(rng.choice([0.0, 1.0])))
    return State(sites, jobs, fcs, limits, pol, now)


def score(st: State, choice: list[tuple[str | None, frozenset[int]]]) -> float:
    """Objective points of a choice per job (site id or None, run slots of the horizon),
    or inf if it breaks a rule. Straight from the inputs."""
    pol, T = st.policy, 4
    slot_h = 1.0
    start = T0  # the slot containing now
    times = [start + t * SLOT for t in range(T)]
    pinned_kw = {(s.id, t): 0.0 for s in st.sites for t in range(T)}
    movable_kw = dict.fromkeys(pinned_kw, 0.0)
    pinned_gpus = dict.fromkeys(pinned_kw, 0)
    movable_gpus = dict.fromkeys(pinned_kw, 0)
    total = 0.0
    o = math.ceil(pol.restart_overhead_h / slot_h - 1e-9)
    for job, (site_id, run) in zip(st.jobs, choice, strict=True):
        remaining = math.ceil((job.duration_h - job.done_h) / slot_h - 1e-9)
        ddl = math.floor((pd.Timestamp(job.deadline) - start) / SLOT + 1e-9)
        pinned = job.running_site is not None and not job.checkpointable
        if site_id is None:
            if pinned:
                return math.inf  # running work that cannot pause is never left out
            if ddl > T:  # deferred: its energy (a running checkpointable job's restart
                # overhead included) at the horizon-average cost of its best site, less the
                # zero-carbon credit on the share of the site's capped energy curtailment
                # covers (the horizon is shorter than a day, so it has no average day)
                best = math.inf
                for s in st.sites:
                    if not allowed(st, job, s):
                        continue
                    fc = st.forecasts[s.region]
                    costs = []
                    for t in range(T):
                        cap_kwh = cap_kw_at(st, s, times[t]) * slot_h
                        zero = s.curtailment_share * fc.curtailment_mw[t] * 1000 * slot_h
                        share = min(1.0, zero / cap_kwh) if cap_kwh > 0 else float(zero > 0)
                        costs.append(pue(s, fc, t) * (cost_per_kwh(st, fc, t)
                                                      - share * zero_credit(st, fc, t)))
                    best = min(best, sum(costs) / T)
                later = remaining + (o if job.running_site and job.checkpointable else 0)
                total += job.gpus * job.kw_per_gpu * later * slot_h * best
            else:
                total += pol.lateness_penalty_per_h * T * slot_h
            continue
        site = next(s for s in st.sites if s.id == site_id)
        if not allowed(st, job, site) and job.running_site != site_id:
            return math.inf
        slots = sorted(run)
        if not slots:
            return math.inf
        rel = 0 if job.running_site else max(0, math.ceil((pd.Timestamp(job.release) - start)
                                                          / SLOT - 1e-9))
        if slots[0] < rel:
            return math.inf
        segments = sum(1 for t in slots if t - 1 not in run)
        if pinned and (site_id != job.running_site or slots != list(range(remaining))):
            return math.inf
        if not job.checkpointable and segments != 1:
            return math.inf
        need = remaining + o * (segments - 1)
        if job.running_site and job.checkpointable and not (site_id == job.running_site
                                                              and 0 in run):
            need += o
        if len(slots) != need:
            return math.inf
        total += pol.lateness_penalty_per_h * slot_h * max(0, slots[-1] + 1 - ddl)
        for t in slots:
            (pinned_kw if pinned else movable_kw)[site_id, t] += job.gpus * job.kw_per_gpu
            (pinned_gpus if pinned else movable_gpus)[site_id, t] += job.gpus
    for s in st.sites:
        fc = st.forecasts[s.region]
        for t in range(T):
            # running work that cannot move is there already; the rest fits beside it
            if movable_gpus[s.id, t] > max(0, s.gpus - pinned_gpus[s.id, t]):
                return math.inf
            cap_kw = cap_kw_at(st, s, times[t])
            p = pue(s, fc, t)
            if movable_kw[s.id, t] * p > max(0.0, cap_kw - pinned_kw[s.id, t] * p) + 1e-9:
                return math.inf
            facility = (pinned_kw[s.id, t] + movable_kw[s.id, t]) * p * slot_h
            zero = min(facility, s.curtailment_share * fc.curtailment_mw[t] * 1000 * slot_h)
            total += cost_per_kwh(st, fc, t) * facility - zero_credit(st, fc, t) * zero
            min_kw = max([0.0] + [lim.min_facility_kw for lim in st.limits
                                  if lim.site == s.id and overlaps(lim, times[t])])
            total += pol.min_limit_penalty_per_kwh * max(0.0, min_kw * slot_h - facility)
    return total


def cap_kw_at(st: State, s: Site, t: pd.Timestamp) -> float:
    """The site's facility kW cap in the slot starting at `t` (its max limits applied)."""
    return min([s.power_cap_kw] + [lim.max_facility_kw for lim in st.limits
                                   if lim.site == s.id and overlaps(lim, t)])


def zero_credit(st: State, fc: Forecast, t: int) -> float:
    """Points saved per facility kWh counted zero-carbon."""
    return st.policy.carbon_weight_per_kg * objective_ci(st, fc, t) / 1000 \
        + st.policy.curtailment_reward_per_kwh


def overlaps(lim: PowerLimit, t: pd.Timestamp) -> bool:
    return t < pd.Timestamp(lim.end) and t + SLOT > pd.Timestamp(lim.start)


def pue(s: Site, fc: Forecast, t: int) -> float:
    temp = fc.temperature_c[t] if fc.temperature_c is not None else s.pue.above_degc
    return s.pue.base + s.pue.per_degc * max(0.0, temp - s.pue.above_degc)


def objective_ci(st: State, fc: Forecast, t: int) -> float:
    if st.policy.carbon_signal is CarbonSignal.MARGINAL and fc.marginal_gco2_per_kwh is not None:
        return float(fc.marginal_gco2_per_kwh[t])
    return float(fc.carbon_gco2_per_kwh[t])


def cost_per_kwh(st: State, fc: Forecast, t: int) -> float:
    price = fc.price_jpy_per_kwh[t] if fc.price_jpy_per_kwh is not None else 0.0
    return st.policy.carbon_weight_per_kg * objective_ci(st, fc, t) / 1000 \
        + st.policy.cost_weight_per_jpy * price


def allowed(st: State, job: Job, s: Site) -> bool:
    if job.latency is Latency.CRITICAL and s.id != (job.home_site or "shiroi"):
        return False
    return job.gpus <= s.gpus and job.gpus * job.kw_per_gpu * 1.0 <= s.power_cap_kw + 1e-9


def choices(st: State) -> list[tuple[str | None, frozenset[int]]]:
    """Every choice of one job: unplaced, or any site with any set of the 4 slots."""
    return [(None, frozenset())] + [(s.id, frozenset(slots)) for s in st.sites
                                    for size in range(1, 5)
                                    for slots in itertools.combinations(range(4), size)]


def brute_force(st: State) -> float:
    """The optimum over every combination of per-job choices."""
    return min(score(st, list(c)) for c in itertools.product(*[choices(st)] * len(st.jobs)))


def choice_of(plan_jobs: tuple, starts: pd.DatetimeIndex) -> list[tuple[str | None,
                                                                       frozenset[int]]]:
    out = []
    for jp in plan_jobs:
        slots = {i for i, t in enumerate(starts) for a, b in jp.segments
                 if pd.Timestamp(a) <= t < pd.Timestamp(b)}
        out.append((jp.site, frozenset(slots)))
    return out


POLICIES = ["min-carbon", "follow-the-sun-wind", "min-cost"]


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("seed", range(10))
def test_live_replans_equal_the_enumerated_optimum_scored_from_the_inputs(
        seed: int, policy: str) -> None:
    pol = load_policy(policy)
    if seed % 3 == 0:
        pol = replace(pol, carbon_signal=CarbonSignal.MARGINAL)
    st = live_state(seed, pol)
    optimum = brute_force(st)
    tol = 1e-6 * max(1.0, abs(optimum))
    p = build_problem(st.sites, st.jobs, st.forecasts, st.policy, now=st.now,
                      limits=st.limits)
    assert p.slot_starts[0] == T0 and p.n_slots == 4
    for builder in (Builder.FAST, Builder.PYOMO):
        planner = Planner(st.sites, st.policy, PlanConfig(mip_gap=1e-9, builder=builder,
                                                          time_limit_s=30))
        plan = planner.replan(st.now.to_pydatetime(), st.jobs, st.forecasts, st.limits)
        got = score(st, choice_of(plan.jobs, plan.slot_starts))
        assert got == pytest.approx(optimum, abs=tol), builder
        assert plan.objective == pytest.approx(got, abs=tol), builder
        for job, jp in zip(st.jobs, plan.jobs, strict=True):
            if job.running_site and not job.checkpointable:
                assert jp.site == job.running_site
                assert pd.Timestamp(jp.segments[0][0]) == T0
    for method in (Method.GREEDY, Method.ASAP):
        out = solve(p, method)
        assert out.objective >= optimum - tol


RUNNING_CHECKPOINTABLE = [seed for seed in range(40) if any(
    job.running_site and job.checkpointable
    for job in live_state(seed, load_policy("min-carbon")).jobs)][:12]
"""Seeds whose state has a running checkpointable job (the draws do not depend on the
policy)."""


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("seed", RUNNING_CHECKPOINTABLE)
def test_the_column_path_bound_holds_for_running_checkpointable_jobs(
        seed: int, policy: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Large instances go the column path, which plans a running checkpointable job as
    going on where it runs; its bound must still hold for plans that pause or move it, and
    the plan then weighs pausing or moving it: no other run of that job alone in the
    horizon, the others as planned, scores better."""
    monkeypatch.setattr(solve_module, "FULL_MODEL_MAX_NNZ", 0)
    st = live_state(seed, load_policy(policy))
    optimum = brute_force(st)
    tol = 1e-6 * max(1.0, abs(optimum))
    p = build_problem(st.sites, st.jobs, st.forecasts, st.policy, now=st.now,
                      limits=st.limits)
    out = solve(p, Method.MILP, deterministic=True)
    planned = [(None if s < 0 else p.sites[s].id, frozenset(np.flatnonzero(r).tolist()))
               for s, r in zip(out.schedule.site, out.schedule.run, strict=True)]
    got = score(st, planned)
    assert got == pytest.approx(out.objective, abs=tol)
    assert out.bound <= optimum + tol
    for i, job in enumerate(st.jobs):
        if job.running_site and job.checkpointable:
            for alone in choices(st)[1:]:
                assert score(st, [*planned[:i], alone, *planned[i + 1:]]) >= got - tol, alone

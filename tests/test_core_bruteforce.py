"""The MILP against exhaustive enumeration on tiny instances, and a hand-solved case."""

from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np
import pytest

from policies.battery import Battery
from policies.policy import Policy, load_policy
from scheduler.core.problem import Problem, build_problem
from scheduler.core.schedule import UNPLACED, Schedule, evaluate, violations
from scheduler.core.solve import Builder, Method, solve
from simulations.instances import random_instance
from tests.helpers import forecast, job, site

EXACT = 1e-7  # relative tolerance: both sides are optimal to the solver's precision


def job_options(p: Problem, j: int) -> list[tuple[int, np.ndarray]]:
    """Every (site, run slots) the rules allow for job j, plus UNPLACED."""
    T, d = p.n_slots, int(p.dur_slots[j])
    opts: list[tuple[int, np.ndarray]] = [(UNPLACED, np.zeros(T, bool))]
    for s in np.flatnonzero(p.allowed[j]):
        window = range(int(p.release_slot[j]), T)
        if not p.checkpointable[j]:
            for k in range(int(p.release_slot[j]), T - d + 1):
                run = np.zeros(T, bool)
                run[k:k + d] = True
                opts.append((int(s), run))
            continue
        for size in range(d, len(window) + 1):
            for slots in itertools.combinations(window, size):
                run = np.zeros(T, bool)
                run[list(slots)] = True
                opts.append((int(s), run))
    return opts


def brute_force(p: Problem) -> float:
    """The optimum by enumerating every combination of job options."""
    best = np.inf
    per_job = [job_options(p, j) for j in range(len(p.jobs))]
    for combo in itertools.product(*per_job):
        sched = Schedule(np.array([s for s, _ in combo]), np.array([r for _, r in combo]))
        if not violations(p, sched):
            best = min(best, evaluate(p, sched).objective)
    return best


def tiny_problem(seed: int, policy: Policy) -> Problem:
    rng = np.random.default_rng(seed)
    T = 4
    fcs = {r: forecast(r, rng.uniform(100, 700, T), rng.choice([0.0, 0.2, 0.6], T),
                       price=rng.uniform(10, 25, T)) for r in ("chugoku", "tokyo")}
    sites = [site("matsue", "chugoku", gpus=int(rng.integers(2, 6)), cap_kw=8.0,
                  share=float(rng.choice([0.0, 0.01]))),
             site("shiroi", "tokyo", gpus=int(rng.integers(2, 6)), cap_kw=8.0, home=True)]
    jobs = []
    for i in range(int(rng.integers(2, 4))):
        d = int(rng.integers(1, 3))
        rel = int(rng.integers(0, T - d + 1))
        ddl = int(min(T, rel + d + rng.integers(-1, 2)))
        jobs.append(job(f"j{i}", int(rng.integers(1, 3)), d, rel, max(ddl, rel + 1),
                        kw=float(rng.choice([0.8, 1.0])), ckpt=bool(rng.random() < 0.4),
                        critical=bool(rng.random() < 0.15)))
    pol = replace(policy, restart_overhead_h=float(rng.choice([0.0, 1.0])))
    return build_problem(sites, jobs, fcs, pol)


@pytest.mark.parametrize("policy", ["min-carbon", "follow-the-sun-wind", "min-cost",
                                    "balanced"])
@pytest.mark.parametrize("seed", range(12))
def test_milp_equals_the_enumerated_optimum_and_baselines_are_never_better(seed: int,
                                                                           policy: str) -> None:
    p = tiny_problem(seed, load_policy(policy))
    optimum = brute_force(p)
    tol = EXACT * max(1.0, abs(optimum))
    for builder in (Builder.FAST, Builder.PYOMO):
        out = solve(p, Method.MILP, time_limit_s=30, mip_gap=1e-9, builder=builder)
        assert not violations(p, out.schedule)
        assert out.objective == pytest.approx(optimum, abs=tol), builder
        assert out.bound <= optimum + tol
    for method in (Method.GREEDY, Method.ASAP):
        out = solve(p, method)
        assert not violations(p, out.schedule)
        assert out.objective >= optimum - tol


def test_hand_solved_case_moves_the_job_into_the_curtailment_window() -> None:
    # 2 sites × 3 slots. Chugoku is dirtier except in slot 1, where 1 MW is curtailed and
    # the site may absorb 1 % of it (10 kWh per slot): a 4 kW × 1.25 PUE job (5 kWh) there
    # is zero-carbon. Tokyo is 450 g/kWh throughout.
    fcs = {"chugoku": forecast("chugoku", [700, 650, 700], [0.0, 1.0, 0.0]),
           "tokyo": forecast("tokyo", [450, 450, 450])}
    sites = [site("matsue", "chugoku", pue=1.25, share=0.01), site("shiroi", "tokyo", home=True)]
    jobs = [job("train", gpus=4, dur_slots=1, release=0, deadline=3)]
    p = build_problem(sites, jobs, fcs, load_policy("min-carbon"))
    for builder in (Builder.FAST, Builder.PYOMO):
        out = solve(p, builder=builder, mip_gap=1e-9)
        assert out.schedule.site[0] == 0 and out.schedule.segments(0) == [(1, 2)]
        assert out.evaluation.total_kg_co2 == pytest.approx(0.0)
    base = solve(p, Method.ASAP)
    # asap: home (Tokyo) at slot 0: 4 kW × 1.2 PUE × 1 h × 0.45 kg/kWh
    assert base.evaluation.total_kg_co2 == pytest.approx(4 * 1.2 * 0.45)


@pytest.mark.parametrize(("seed", "batteries"), [(seed, False) for seed in range(8)]
                         + [(seed, True) for seed in range(3)])
def test_fast_and_pyomo_builders_reach_the_same_optimum_on_random_instances(
        seed: int, batteries: bool) -> None:
    inst = random_instance(10, n_sites=3, n_slots=16, slot_minutes=60, seed=seed,
                           checkpointable_share=0.3, load_factor=0.8)
    sites = inst.sites
    if batteries:  # two sites with a battery, their caps low enough for it to matter
        sites = [replace(s, power_cap_kw=0.7 * s.power_cap_kw, battery=Battery(
            kwh=20.0 + 10 * i, kw=8.0, efficiency=0.85, min_soc=0.1, initial_soc=0.5))
            if i < 2 else s for i, s in enumerate(sites)]
    p = build_problem(sites, inst.jobs, inst.forecasts, load_policy("follow-the-sun-wind"))
    fast = solve(p, time_limit_s=60, mip_gap=1e-9)
    ref = solve(p, time_limit_s=60, mip_gap=1e-9, builder=Builder.PYOMO)
    assert fast.status.value == ref.status.value == "optimal"
    assert fast.objective == pytest.approx(ref.objective, rel=1e-6, abs=1e-6)


def test_the_pyomo_reference_passes_the_time_budget_to_highs(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Pyomo's legacy solve() resets the solver's time limit from its own arguments; the
    reference must hand the remaining budget to HiGHS or a large model runs unbounded."""
    import highspy

    limits: list[float] = []
    original = highspy.Highs.setOptionValue

    def record(self: highspy.Highs, name: str, value: object) -> object:
        if name == "time_limit":
            limits.append(float(value))  # type: ignore[arg-type]
        return original(self, name, value)

    monkeypatch.setattr(highspy.Highs, "setOptionValue", record)
    p = tiny_problem(0, load_policy("min-carbon"))
    solve(p, time_limit_s=7.5, builder=Builder.PYOMO)
    assert limits and all(0 < limit <= 7.5 for limit in limits)

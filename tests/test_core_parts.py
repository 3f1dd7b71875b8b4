"""Very large instances: parts solved apart add up to a valid plan; the bound stays valid."""

from __future__ import annotations

import numpy as np
import pytest

import scheduler.core.decompose as decompose
import scheduler.core.solve as solve_module
from policies.policy import load_policy
from scheduler.core.colgen import Prices, column_generation, lagrangian_bound
from scheduler.core.greedy import greedy
from scheduler.core.milp_fast import build_fast
from scheduler.core.problem import Problem, build_problem
from scheduler.core.schedule import Schedule, evaluate, site_loads, violations
from scheduler.core.solve import Method, solve
from scheduler.core.solver import LpSession, SolveStatus, run_highs
from simulations.instances import random_instance


def problem(n_jobs: int, seed: int, checkpointable_share: float = 0.0,
            policy: str = "min-carbon") -> Problem:
    inst = random_instance(n_jobs, n_sites=3, n_slots=32, seed=seed,
                           checkpointable_share=checkpointable_share)
    return build_problem(inst.sites, inst.jobs, inst.forecasts, load_policy(policy))


@pytest.mark.parametrize("seed", range(3))
def test_the_lagrangian_bound_equals_the_lp_at_its_duals_and_stays_below_elsewhere(
        seed: int) -> None:
    p = problem(40, seed)
    master = column_generation(p, greedy(p), time_limit_s=60, tol=1e-9)
    at_duals = lagrangian_bound(p, master.prices())
    assert at_duals == pytest.approx(master.lp_objective, rel=1e-6)
    rng = np.random.default_rng(seed)
    for _ in range(5):
        y = master.prices()
        shaken = Prices(y.load * rng.uniform(0.5, 1.5, y.load.shape),
                        y.gpu * rng.uniform(0.0, 2.0, y.gpu.shape) - rng.uniform(0, 0.1))
        assert lagrangian_bound(p, shaken) <= master.lp_objective + 1e-6


@pytest.mark.parametrize("seed", [2, 3])  # seeds 0 and 1 take HiGHS 25–50 s to prove
def test_the_lagrangian_bound_stays_below_the_best_plan_with_split_runs(seed: int) -> None:
    # the curtailment reward makes extra resumes of a checkpointable job pay where a slot's
    # price is negative: the bound must cover runs longer than the job's duration too. It
    # prices integral schedules in pieces, so at the LP's duals it may pass the LP (whose
    # fractional resumes cost less) but never the optimum of the full model (a plan proven
    # within 0.1 % of it)
    p = problem(12, seed, checkpointable_share=0.5, policy="follow-the-sun-wind")
    assert p.checkpointable.sum() >= 3 and p.overhead_slots > 0 and not p.impossible.any()
    fm = build_fast(p)
    status, lp, _, y = LpSession(fm.matrix).solve(60)
    assert status is SolveStatus.OPTIMAL
    best = run_highs(fm.matrix, time_limit_s=120, mip_rel_gap=1e-3)
    assert best.status is SolveStatus.OPTIMAL
    assert lp - 1e-6 <= lagrangian_bound(p, Prices.from_duals(fm.blocks, y, p.pue.shape)) \
        <= best.objective + 1e-6
    rng = np.random.default_rng(seed)
    for scale in (0.01, 0.1, 1.0):
        prices = Prices(rng.normal(0.0, scale, p.pue.shape), -rng.uniform(0.0, scale, p.pue.shape))
        assert lagrangian_bound(p, prices) <= best.objective + 1e-6


def test_parts_take_shares_that_add_up_and_deal_every_job_once() -> None:
    p = problem(300, 1)
    parts = decompose.split(p, part_jobs=100)
    assert len(parts) == 3
    assert np.array_equal(np.sort(np.concatenate(parts)), np.arange(len(p.jobs)))
    part = p.part(parts[0], 0.25)
    assert part.gpu_cap == pytest.approx(p.gpu_cap * 0.25)
    assert len(part.jobs) == len(parts[0]) and part.allowed.shape == (len(parts[0]), 3)


@pytest.mark.parametrize("seed", range(4))
def test_a_residual_plan_adds_up_to_a_plan_of_the_whole_with_the_objectives_summed(
        seed: int) -> None:
    p = problem(60, seed, checkpointable_share=0.2)
    assert p.zero_carbon_cap_kwh.max() > 0  # the zero-carbon split must be exercised
    kept = greedy(p)
    rest = np.random.default_rng(seed).choice(len(p.jobs), 30, replace=False)
    kept.site[rest], kept.run[rest] = -1, False
    it_kw, gpus = site_loads(p, kept)
    residual = p.residual(rest, it_kw, gpus)
    assert residual.gpu_cap == pytest.approx(p.gpu_cap - gpus)
    plan = greedy(residual)
    assert violations(residual, plan) == [] and (plan.site >= 0).any()
    merged = Schedule(kept.site.copy(), kept.run.copy())
    merged.site[rest], merged.run[rest] = plan.site, plan.run
    assert violations(p, merged) == []
    unplaced = p.policy.lateness_penalty_per_h * p.n_slots * p.slot_h
    assert evaluate(p, merged).objective == pytest.approx(
        evaluate(p, kept).objective - unplaced * len(rest) + evaluate(residual, plan).objective)


@pytest.mark.parametrize("workers", [1, 2])
def test_the_parts_plans_add_up_to_a_valid_plan_above_a_valid_bound(
        monkeypatch: pytest.MonkeyPatch, workers: int) -> None:
    p = problem(300, 2, checkpointable_share=0.1)
    monkeypatch.setattr(decompose, "PART_JOBS", 100)
    monkeypatch.setattr(decompose, "SPAWN_MIN_S", 0.0)
    sched, bound, results = decompose.solve_parts(p, time_limit_s=60, workers=workers)
    assert len(results) == 3 and all(r.prices is not None for r in results)
    assert violations(p, sched) == []  # the rounded parts fit the whole's capacity together
    by_parts = sum(len(r.jobs) for r in results)
    assert by_parts > 0.5 * len(p.jobs)
    assert (sched.site >= 0).sum() > by_parts  # the residual placed some of the rest
    plan = greedy(p, sched)
    assert violations(p, plan) == []
    # the parts' LPs sum to no less than the LP of the whole, which is above the bound
    whole = column_generation(p, greedy(p), time_limit_s=60, tol=1e-9)
    assert bound <= whole.lp_objective + 1e-6
    assert sum(r.lp_objective for r in results) >= whole.lp_objective - 1e-6
    assert evaluate(p, plan).objective >= bound


def test_very_large_instances_take_the_parts_path(monkeypatch: pytest.MonkeyPatch) -> None:
    p = problem(300, 3)
    monkeypatch.setattr(solve_module, "FULL_MODEL_MAX_NNZ", 0)
    monkeypatch.setattr(decompose, "PART_JOBS", 100)
    out = solve(p, Method.MILP, time_limit_s=20)
    assert out.source in {"milp:parts", "milp:greedy"}
    assert violations(p, out.schedule) == []
    assert np.isfinite(out.bound) and out.bound <= out.objective + 1e-6
    assert out.objective <= evaluate(p, greedy(p)).objective

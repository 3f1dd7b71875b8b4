"""Column generation and price-and-dive: the path `milp` takes on large instances."""

from __future__ import annotations

import numpy as np
import pytest

import scheduler.core.solve as solve_module
from policies.policy import load_policy
from scheduler.core.colgen import column_generation, dive
from scheduler.core.greedy import greedy
from scheduler.core.milp_fast import build_fast, decode
from scheduler.core.problem import Problem, build_problem
from scheduler.core.schedule import evaluate, violations
from scheduler.core.solve import Method, solve
from scheduler.core.solver import SolveStatus, run_highs
from simulations.instances import random_instance


def problem(n_jobs: int, seed: int, checkpointable_share: float = 0.0) -> Problem:
    inst = random_instance(n_jobs, n_sites=3, n_slots=32, seed=seed,
                           checkpointable_share=checkpointable_share)
    return build_problem(inst.sites, inst.jobs, inst.forecasts, load_policy("min-carbon"))


@pytest.mark.parametrize("seed", range(4))
def test_column_generation_reaches_the_lp_bound_of_the_full_model(seed: int) -> None:
    p = problem(40, seed)
    full = run_highs(build_fast(p, preemptive=False).matrix, time_limit_s=60, relax=True)
    assert full.status is SolveStatus.OPTIMAL
    master = column_generation(p, greedy(p), time_limit_s=60, tol=1e-9)
    assert master.lp_objective == pytest.approx(full.objective, rel=1e-6, abs=1e-6)
    assert master.bound == pytest.approx(full.objective, rel=1e-6, abs=1e-6)
    # the restricted master holds far fewer start columns than the full model
    assert len(master.opts[0]) < build_fast(p, preemptive=False).starts.col.size


@pytest.mark.parametrize("seed", range(4))
def test_the_dive_ends_integral_with_a_valid_plan_above_the_bound(seed: int) -> None:
    p = problem(40, seed)
    master = column_generation(p, greedy(p), time_limit_s=60, tol=1e-9)
    x = dive(master, time_limit_s=60)
    assert x is not None
    starts = x[master.start_cols]
    assert np.allclose(starts, np.round(starts), atol=1e-6)
    sched = decode(p, master.model(), x)
    assert violations(p, sched) == []
    assert evaluate(p, sched).objective >= master.bound - 1e-6 * max(1.0, abs(master.bound))


@pytest.mark.parametrize("seed", range(3))
def test_the_bound_stays_valid_for_preemptive_plans(seed: int) -> None:
    """Checkpointable jobs are priced by a relaxation, so the bound never exceeds the
    optimum of the full (preemptive) MILP."""
    p = problem(12, seed, checkpointable_share=0.5)
    assert p.checkpointable.any()
    exact = solve(p, time_limit_s=60, mip_gap=1e-9)
    assert exact.status is SolveStatus.OPTIMAL
    master = column_generation(p, greedy(p), time_limit_s=60, tol=1e-9)
    assert master.bound <= exact.objective + 1e-6 * max(1.0, abs(exact.objective))


def test_large_instances_take_the_column_path_and_report_an_honest_gap(
        monkeypatch: pytest.MonkeyPatch) -> None:
    p = problem(60, 7, checkpointable_share=0.2)
    monkeypatch.setattr(solve_module, "FULL_MODEL_MAX_NNZ", 0)
    out = solve(p, Method.MILP, time_limit_s=15)
    assert out.source in {
        "milp:greedy", "milp:lp-rounding", "milp:colgen-dive", "milp:colgen"}
    assert violations(p, out.schedule) == []
    assert np.isfinite(out.bound) and out.bound <= out.objective + 1e-6
    assert out.objective <= evaluate(p, greedy(p)).objective


def test_a_tiny_time_limit_still_returns_a_valid_plan_for_every_job() -> None:
    inst = random_instance(2000, seed=3)
    p = build_problem(inst.sites, inst.jobs, inst.forecasts, load_policy("min-carbon"))
    out = solve(p, Method.MILP, time_limit_s=0.5)
    assert violations(p, out.schedule) == []
    # a job is placed or reported (unplaced/late), never silently lost
    assert len(out.schedule.site) == len(p.jobs)
    assert out.objective <= evaluate(p, greedy(p)).objective


def test_a_run_without_a_column_leaves_the_start_partial() -> None:
    """A restricted model of single runs may lack the column of a plan's run (a job in
    pieces, or an option column generation never priced): the MIP start leaves that job
    out (unplaced) instead of failing — a month-long simulation crashed on this."""
    from scheduler.core.milp_fast import all_start_options, class_of, job_classes, schedule_vector

    p = problem(12, 0)
    sched = greedy(p)
    j = int(np.flatnonzero(sched.site >= 0)[0])
    classes = job_classes(p, np.arange(len(p.jobs)))
    c = class_of(len(p.jobs), classes)[j]
    cls, site, start = all_start_options(p, classes)
    drop = (cls == c) & (site == sched.site[j]) & (start == sched.start_slot()[j])
    assert drop.sum() == 1
    fm = build_fast(p, preemptive=False, options=(cls[~drop], site[~drop], start[~drop]))
    x = schedule_vector(p, fm, sched)
    u0, n = fm.blocks["class-unplaced"]
    assert x[u0 + c] >= 1  # left out of the start, not lost
    assert x[u0:u0 + n].sum() + x[fm.starts.col].sum() == len(p.jobs)

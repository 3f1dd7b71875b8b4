"""Large-neighbourhood search over start columns (`scheduler.core.lns`), the column path's
last improvement of a fresh plan."""

from __future__ import annotations

import numpy as np
import pytest

from policies.policy import load_policy
from scheduler.core.greedy import asap
from scheduler.core.lns import KINDS, improve, neighbourhood
from scheduler.core.milp_fast import build_fast, decode, schedule_vector
from scheduler.core.problem import Problem, build_problem
from scheduler.core.schedule import evaluate, violations
from scheduler.core.solver import SolveStatus, run_highs
from simulations.instances import random_instance


def problem(n_jobs: int, seed: int) -> Problem:
    inst = random_instance(n_jobs, n_sites=3, n_slots=32, seed=seed)
    return build_problem(inst.sites, inst.jobs, inst.forecasts, load_policy("min-carbon"))


def never(_: float) -> bool:
    return False


def test_the_search_takes_the_asap_plan_to_the_optimum_of_the_model() -> None:
    """From the carbon-agnostic plan, rounds over neighbourhoods reach the MILP optimum of
    the same model (solved whole, to proof; its LP bound is 20 % lower) within 0.5 %, and
    the solution decodes to a valid plan whose objective is the model's."""
    p = problem(24, 1)
    fm = build_fast(p, preemptive=False)
    exact = run_highs(fm.matrix, time_limit_s=60, mip_rel_gap=1e-9)
    assert exact.status is SolveStatus.OPTIMAL
    x0 = schedule_vector(p, fm, asap(p))
    start = float(fm.matrix.c @ x0)
    x, improved = improve(fm.matrix, fm.starts, x0, time_limit_s=np.inf, rounds=40,
                          done=never, sub_time_s=np.inf, sub_nodes=100)
    assert improved > 0
    objective = float(fm.matrix.c @ x)
    assert objective < start
    assert objective <= exact.objective + 0.005 * abs(exact.objective)
    sched = decode(p, fm, x)
    assert violations(p, sched) == []
    assert evaluate(p, sched).objective == pytest.approx(objective, rel=1e-6)


@pytest.mark.parametrize("kind", range(KINDS))
def test_each_neighbourhood_frees_about_its_share(kind: int) -> None:
    """Rounds re-solve parts of the plan: a share of the classes, sites or slots."""
    p = problem(24, 1)
    fm = build_fast(p, preemptive=False)
    st = fm.starts
    counts = np.round(schedule_vector(p, fm, asap(p))[st.col])
    rng = np.random.default_rng(0)
    for share in (0.3, 0.6):
        free = np.array([neighbourhood(kind, st, counts, share, rng) for _ in range(50)])
        assert free.any(axis=1).all() and not free.all(axis=1).any()
        n_classes = int(st.cls.max()) + 1
        classes = [np.unique(st.cls[f]).size / n_classes for f in free]
        sites = [np.unique(st.site[f]).size / 3 for f in free]
        slots = [np.ptp(st.start[f]) + 1 for f in free]
        if kind == 0:
            assert np.mean(classes) == pytest.approx(share, abs=0.1)
        elif kind == 1:
            assert set(sites) == {round(share * 3) / 3}
        elif kind == 2:
            assert max(slots) == round(share * (np.ptp(st.start) + 1))
        else:
            assert max(classes) <= round(share * n_classes) / n_classes


def test_the_search_stops_once_done_and_is_the_same_on_every_run() -> None:
    """With node limits and no clock, the same seed gives the same solution; `done` ends
    the search at the first objective it accepts."""
    p = problem(16, 0)
    fm = build_fast(p, preemptive=False)
    x0 = schedule_vector(p, fm, asap(p))
    runs = [improve(fm.matrix, fm.starts, x0, time_limit_s=np.inf, rounds=20, done=never,
                    sub_time_s=np.inf, sub_nodes=200, seed=3) for _ in range(2)]
    assert np.array_equal(runs[0][0], runs[1][0]) and runs[0][1] == runs[1][1]
    seen: list[float] = []

    def first(objective: float) -> bool:
        seen.append(objective)
        return len(seen) > 1
    _, improved = improve(fm.matrix, fm.starts, x0, time_limit_s=np.inf, rounds=20,
                          done=first, sub_time_s=np.inf, sub_nodes=200, seed=3)
    assert improved == 1

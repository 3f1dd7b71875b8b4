"""Late-job repair: one blocking job is moved so a late job runs on time."""

from __future__ import annotations

from policies.policy import load_policy
from scheduler.core.problem import Problem, build_problem
from scheduler.core.repair import repair_late
from scheduler.core.schedule import Schedule, evaluate, violations
from tests.helpers import forecast, job, site


def two_jobs(flexible_deadline: float) -> Problem:
    # one 8-GPU site, 4 one-hour slots, clean first then dirty
    fcs = {"chugoku": forecast("chugoku", [100, 100, 900, 900])}
    jobs = [job("flexible", gpus=8, dur_slots=2, release=0, deadline=flexible_deadline),
            job("urgent", gpus=8, dur_slots=2, release=0, deadline=2)]
    return build_problem([site("matsue", "chugoku", gpus=8)], jobs, fcs,
                         load_policy("min-carbon"))


def blocked(p: Problem) -> Schedule:
    """The flexible job took the clean slots; the urgent one runs after, late."""
    sched = Schedule.empty(p)
    sched.place(0, 0, slice(0, 2))
    sched.place(1, 0, slice(2, 4))
    return sched


def test_the_blocking_job_moves_and_the_late_job_runs_on_time() -> None:
    p = two_jobs(flexible_deadline=4)
    before = blocked(p)
    assert evaluate(p, before).late.tolist() == [False, True]
    after = repair_late(p, before, time_limit_s=10)
    assert violations(p, after) == []
    assert after.segments(1) == [(0, 2)] and after.segments(0) == [(2, 4)]
    assert not evaluate(p, after).late.any()
    assert evaluate(p, after).objective < evaluate(p, before).objective


def test_nothing_changes_when_no_single_move_helps() -> None:
    p = two_jobs(flexible_deadline=2)  # both must run in slots 0-1 on the only site
    before = blocked(p)
    assert repair_late(p, before, time_limit_s=10) is before

"""Carry a plan out for a while: the live state the next re-plan starts from."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd

from policies.job import Job
from scheduler.core.plan import Plan


def run_plan(plan: Plan, jobs: list[Job], now: pd.Timestamp, hours: float,
             restart_overhead_h: float) -> list[Job]:
    """The jobs after `plan` has run from `now` for `hours`, exactly as planned: work done
    accrues (the restart overhead of a resumed piece does no work), finished jobs leave,
    and a job running at the end keeps its site (`running_site`); the rest are pending."""
    until = now + pd.Timedelta(hours=hours)
    by_id = {jp.id: jp for jp in plan.jobs}
    out = []
    for job in jobs:
        jp = by_id[job.id]
        done, running = job.done_h, None
        for i, (a, b) in enumerate(jp.segments):
            a, b = pd.Timestamp(a), pd.Timestamp(b)
            ran_h = max(0.0, (min(b, until) - max(a, now)).total_seconds() / 3600)
            if i > 0 and now <= a < until:
                ran_h = max(0.0, ran_h - restart_overhead_h)
            done += ran_h
            if a < until < b:
                running = jp.site
        if done < job.duration_h - 1e-9:
            out.append(replace(job, done_h=done, running_site=running))
    return out

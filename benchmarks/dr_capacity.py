"""How long ΔkW takes: the full 24-hour table of a large live state, against one plan of it.

Usage: `python benchmarks/dr_capacity.py [--jobs 1000] [--sites 8] [--sample 96] [--seed 1]`

The state: `simulations.instances.random_instance` (8 sites × 96 slots of 15 minutes), its
first plan carried out for two hours (jobs running, work done). The planner re-plans it
(deterministic mode, timed: the baseline). Then the table the issue names — every site ×
starts every 30 minutes over 24 h × windows 30, 60, 180 min × both directions — is
computed by `capacity_table` on all CPUs (threads) and on one, and `--sample` queries are
timed one by one for the distribution. Target (issue 12): the table in ≤ 10 s on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table

import scheduler.dr.capacity as capacity
from policies.policy import load_policy
from scheduler.core.planner import PlanConfig, Planner
from simulations.execute import run_plan
from simulations.instances import random_instance

WINDOWS = (30, 60, 180)
STARTS = 48


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=1000)
    ap.add_argument("--sites", type=int, default=8)
    ap.add_argument("--sample", type=int, default=96, help="queries timed one by one")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    inst = random_instance(args.jobs, n_sites=args.sites, seed=args.seed)
    rng = np.random.default_rng(args.seed)
    policy = load_policy("min-carbon")
    # a live state: the first plan carried out for two hours (jobs running, work done)
    start = inst.forecasts[next(iter(inst.forecasts))].slot_starts[0]
    planner = Planner(inst.sites, policy, PlanConfig(deterministic=True))
    first = planner.replan(start.to_pydatetime(), inst.jobs, inst.forecasts)
    jobs = run_plan(first, list(inst.jobs), start, 2.0, policy.restart_overhead_h)
    now = start + pd.Timedelta(hours=2)
    t0 = time.perf_counter()
    planner.replan(now.to_pydatetime(), jobs, inst.forecasts)
    plan_s = time.perf_counter() - t0
    p, base = planner.last_problem, planner.last_schedule
    assert p is not None and base is not None
    seconds = {}
    for workers in (None, 1):
        t0 = time.perf_counter()
        rows = capacity.capacity_table(p, base, workers=workers)
        seconds[workers] = time.perf_counter() - t0
    slot_min = round(p.slot_h * 60)
    grid = [(s, k, w, d) for s in range(len(p.sites)) for k in range(0, STARTS * 30 // slot_min,
                                                                       30 // slot_min)
            for w in WINDOWS for d in capacity.DIRECTIONS if k < p.n_slots]
    times = []
    for i in rng.choice(len(grid), size=min(args.sample, len(grid)), replace=False):
        s, k, w, d = grid[i]
        t = time.perf_counter()
        capacity.delta_kw(p, base, s, k, max(1, w // slot_min), d)
        times.append(time.perf_counter() - t)
    console = Console(width=140)
    table = Table(title=f"ΔkW table: {args.jobs:,} jobs, {len(p.sites)} sites × "
                        f"{p.n_slots} slots, {sum(j.running_site is not None for j in jobs)} "
                        "running")
    for col in ("figure", "value"):
        table.add_column(col)
    table.add_row("re-plan (deterministic), s", f"{plan_s:.1f}")
    table.add_row(f"table ({len(rows):,} queries, {sum(r.kw > 0 for r in rows):,} > 0 kW), "
                  f"{len(os.sched_getaffinity(0))} threads, s", f"{seconds[None]:.1f}")
    table.add_row("table on 1 thread, s", f"{seconds[1]:.1f}")
    table.add_row("table / one plan", f"{seconds[None] / plan_s:.3f}×")
    table.add_row(f"seconds per query ({len(times)} timed): mean / p50 / p95",
                  f"{np.mean(times):.3f} / {np.median(times):.3f} / "
                  f"{np.percentile(times, 95):.3f}")
    console.print(table)


if __name__ == "__main__":
    main()

"""How long ΔkW takes: queries on a large live state, against one plan of the same state.

Usage: `python benchmarks/dr_capacity.py [--jobs 1000] [--sites 8] [--sample 48] [--seed 1]`

The state: `simulations.instances.random_instance` (8 sites × 96 slots of 15 minutes), its
first plan carried out for two hours (jobs running, work done). The planner re-plans it
(deterministic mode, timed); then `--sample` ΔkW
queries spread over sites, starts (30-minute steps over 24 h), windows (30, 60, 180 min)
and both directions are timed one by one. It prints seconds per query (and how many were
exact from the LP relaxation), the extrapolated time of the full grid the issue names
(8 sites × 48 starts × 3 windows × 2 directions = 2,304 queries), and that time as a ratio
of the plan's own solve time measured in the same run. Target (issue 12): the full grid in
≤ 10 s on 2 cores.
"""

from __future__ import annotations

import argparse
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
    ap.add_argument("--sample", type=int, default=48, help="queries timed")
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
    slot_min = round(p.slot_h * 60)
    grid = [(s, k, w, d) for s in range(len(p.sites)) for k in range(0, STARTS * 30 // slot_min,
                                                                       30 // slot_min)
            for w in WINDOWS for d in capacity.DIRECTIONS if k < p.n_slots]
    pick = rng.choice(len(grid), size=min(args.sample, len(grid)), replace=False)
    exact = 0
    original = capacity._integral

    def counting(x: np.ndarray, integer: np.ndarray, tol: float = 1e-6) -> bool:
        nonlocal exact
        ok = original(x, integer, tol)
        exact += ok
        return ok

    capacity._integral = counting
    times = []
    for i in pick:
        s, k, w, d = grid[i]
        t = time.perf_counter()
        capacity.delta_kw(p, base, s, k, max(1, w // slot_min), d)
        times.append(time.perf_counter() - t)
    capacity._integral = original
    per_query = float(np.mean(times))
    full = per_query * len(grid)
    console = Console(width=140)
    table = Table(title=f"ΔkW queries: {args.jobs:,} jobs, {len(p.sites)} sites × "
                        f"{p.n_slots} slots, {sum(j.running_site is not None for j in jobs)} "
                        "running")
    for col in ("figure", "value"):
        table.add_column(col)
    table.add_row("re-plan (deterministic), s", f"{plan_s:.1f}")
    table.add_row("queries timed", f"{len(times)} ({exact} exact from the LP relaxation)")
    table.add_row("seconds per query: mean / p50 / p95",
                  f"{per_query:.2f} / {np.median(times):.2f} / {np.percentile(times, 95):.2f}")
    table.add_row(f"full grid ({len(grid):,} queries), s (extrapolated)", f"{full:,.0f}")
    table.add_row("full grid / one plan", f"{full / plan_s:.1f}×")
    console.print(table)


if __name__ == "__main__":
    main()

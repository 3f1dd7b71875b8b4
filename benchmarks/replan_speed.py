"""Re-plan speed: the `Planner` warm (previous plan kept) against cold plans of the same states.

Usage: `python benchmarks/replan_speed.py [--jobs 1000] [--replans 24] [--time-limit 30]
[--arrivals 50] [--seed 1]`

A state of `--jobs` active jobs on 8 sites × 96 slots of 15 minutes (`random_instance`) is
advanced hour by hour (`simulations.execute.run_plan`): work is done as planned, jobs that
started keep running where they are, finished jobs leave,
`--arrivals` new jobs arrive and the forecast is re-issued (noise on the next hours). Each
hour the warm planner re-plans from its last plan, and a cold planner (no previous plan)
plans the same state, in the same run. Printed: p50/p95 wall seconds of both, the speed-up
(cold : warm), the gap to each plan's own bound, and churn (jobs moved against the previous
plan). Issue 9's target: 1,000 jobs, 50 arrivals, p50 ≤ 2 s, p95 ≤ 5 s within 1 %.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table

from forecasts.forecast import Forecast
from policies.policy import load_policy
from scheduler.core.planner import PlanConfig, Planner
from simulations.execute import run_plan
from simulations.instances import random_instance


def reissue(fcs: dict[str, Forecast], rng: np.random.Generator) -> dict[str, Forecast]:
    """A new forecast issue: ±5 % noise on the carbon signal."""
    return {r: replace(fc, carbon_gco2_per_kwh=fc.carbon_gco2_per_kwh
                       * rng.normal(1.0, 0.05, len(fc.carbon_gco2_per_kwh)))
            for r, fc in fcs.items()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobs", type=int, default=1000)
    ap.add_argument("--replans", type=int, default=24)
    ap.add_argument("--time-limit", type=float, default=30.0)
    ap.add_argument("--arrivals", type=int, default=50)
    ap.add_argument("--mip-gap", type=float, default=0.01)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    n_slots = 96 + 4 * (args.replans + 1)
    pool = random_instance(args.jobs + args.arrivals * args.replans, n_sites=8,
                           n_slots=n_slots, slot_minutes=15, seed=args.seed)
    start = pd.Timestamp(pool.forecasts[next(iter(pool.forecasts))].slot_starts[0])
    by_release = sorted(pool.jobs, key=lambda j: j.release)
    jobs, waiting = by_release[:args.jobs], by_release[args.jobs:]
    jobs = [replace(j, release=min(j.release, start.to_pydatetime())) for j in jobs]
    policy = load_policy("min-carbon")
    config = PlanConfig(time_limit_s=args.time_limit, mip_gap=args.mip_gap)
    warm = Planner(pool.sites, policy, config)
    fcs = pool.forecasts
    now = start
    rows = []
    plan = warm.replan(now.to_pydatetime(), jobs, fcs)
    for hour in range(args.replans):
        jobs = run_plan(plan, jobs, now, 1.0, policy.restart_overhead_h)
        now += pd.Timedelta(hours=1)
        new, waiting = waiting[:args.arrivals], waiting[args.arrivals:]
        jobs += [replace(j, release=max(j.release, now.to_pydatetime())) for j in new]
        fcs = reissue(fcs, rng)
        t0 = time.perf_counter()
        plan = warm.replan(now.to_pydatetime(), jobs, fcs)
        warm_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        cold = Planner(pool.sites, policy, config).replan(now.to_pydatetime(), jobs, fcs)
        cold_s = time.perf_counter() - t0
        rows.append((hour + 1, len(jobs), warm_s, plan.gap, plan.changed_jobs, plan.method,
                     cold_s, cold.gap))
    table = Table(title=f"re-plans of {args.jobs} active jobs, {args.arrivals} arrivals/h")
    for col in ("hour", "jobs", "warm s", "warm gap", "churn", "warm method", "cold s",
                "cold gap"):
        table.add_column(col)
    for r in rows:
        table.add_row(str(r[0]), str(r[1]), f"{r[2]:.2f}", f"{100 * r[3]:.2f} %", str(r[4]),
                      r[5], f"{r[6]:.2f}", f"{100 * r[7]:.2f} %")
    console = Console()
    console.print(table)
    warm_t = np.array([r[2] for r in rows])
    cold_t = np.array([r[6] for r in rows])
    console.print(f"warm p50 {np.percentile(warm_t, 50):.2f} s, p95 {np.percentile(warm_t, 95):.2f}"
                  f" s; cold p50 {np.percentile(cold_t, 50):.2f} s, p95 "
                  f"{np.percentile(cold_t, 95):.2f} s; speed-up (cold : warm, median) "
                  f"{np.median(cold_t / warm_t):.2f}×")


if __name__ == "__main__":
    main()

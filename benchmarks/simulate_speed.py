"""How long a simulation takes, and where the time goes.

Usage: `python benchmarks/simulate_speed.py [--case default|large|both] [--days 30]
[--jobs-per-day 167] [--policies asap,milp] [--workers N]`

* `default` — the built-in `matsue-vs-shiroi` end to end (all five policies), as
  `wattbit simulate` runs it, results written to a temporary folder.
* `large` — a 30-day slice of `follow-the-sun-wind`: 4 sites, ~5,000 jobs, hourly
  re-planning, 48-hour horizon (issue target: ≤ 5 minutes on 2 cores).

Per case it prints seconds by phase (signals and workload, forecast models, planning,
accounting, report I/O), then the planner calls of each policy and, as machine-independent
figures, their time as a ratio of `asap`'s measured in the same run (asap re-plans the
same kind of states with the trivial method: the ratio is what the optimiser costs). The
rolling policies run in `--workers` processes at once (default: one per core, as
`wattbit simulate`), so planning's wall time is less than their sum.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import pandas as pd
from rich.console import Console
from rich.table import Table

from simulations.engine import simulate
from simulations.report import write_results
from simulations.scenario import Scenario, load_scenario


def timed(sc: Scenario, workers: int) -> tuple[dict[str, float], dict[str, float], int]:
    """(seconds by phase, planning seconds by policy, jobs) of one simulation."""
    result = simulate(sc, workers=workers)
    planning = dict(zip(result.summary.policy, result.summary.planner_seconds, strict=True))
    phases = dict(result.timings_s)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        write_results(result, Path(tmp))
    phases["report I/O"] = time.perf_counter() - t0
    return phases, planning, int(result.scenario["jobs_simulated"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--case", choices=("default", "large", "both"), default="both")
    ap.add_argument("--days", type=int, default=30, help="days of the large case")
    ap.add_argument("--jobs-per-day", type=float, default=167.0)
    ap.add_argument("--policies", default="asap,milp", help="policies of the large case")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                    help="processes for the rolling policies (as `wattbit simulate`)")
    args = ap.parse_args()
    console = Console(width=140)
    cases = []
    if args.case in ("default", "both"):
        cases.append(("default (matsue-vs-shiroi)", load_scenario("matsue-vs-shiroi")))
    if args.case in ("large", "both"):
        base = load_scenario("follow-the-sun-wind")
        end = base.start + pd.Timedelta(days=args.days)
        cases.append((f"large ({args.days} days, 4 sites)", load_scenario(
            "follow-the-sun-wind",
            {"end": end.isoformat(), "workload.generator.jobs_per_day": args.jobs_per_day,
             "policies": args.policies.split(",")})))
    for label, sc in cases:
        t0 = time.perf_counter()
        phases, planning, jobs = timed(sc, args.workers)
        wall = time.perf_counter() - t0
        table = Table(title=f"{label}: {jobs:,} jobs, re-plan every {sc.replan_minutes} min, "
                            f"horizon {sc.horizon_hours:g} h, {args.workers} worker(s) — "
                            f"{wall:.1f} s wall")
        for col in ("phase", "seconds", "share of wall", "× asap planning"):
            table.add_column(col, justify="left" if col == "phase" else "right")
        for phase, seconds in phases.items():
            table.add_row(phase, f"{seconds:.1f}", f"{seconds / wall:.0%}", "")
        for name, seconds in planning.items():  # in its own process when workers > 1
            ratio = f"{seconds / planning['asap']:.1f}" if "asap" in planning else ""
            table.add_row(f"  policy {name}", f"{seconds:.1f}", "", ratio)
        console.print(table)


if __name__ == "__main__":
    main()

"""How the planner scales: the fast matrix path against the Pyomo reference and the baselines.

Usage: `python benchmarks/plan_scale.py [--jobs 100,1000,5000,10000] [--time-limit 60]
[--mip-gap 0.005] [--pyomo-max 100] [--seed 1]`

Each instance comes from `simulations.instances.random_instance` (8 sites, 96 slots of
15 minutes, ~60 % of fleet GPU capacity asked for, 10 % checkpointable, 5 % critical).
For each size it prints, in one run on the same machine: build and solve seconds,
objective, bound and gap of the fast path (`milp`) and — up to `--pyomo-max` jobs — of the
Pyomo reference, plus the `greedy` and `asap` baselines. Figures are given as ratios against
those baselines measured in the same run (wall-time ratio fast : Pyomo, objective ratio
milp : greedy, kg-CO2 milp : asap); absolute seconds depend on the machine.
Target (issue 2): 10,000 × 8 × 96 → a plan within 1 % of the LP bound in ≤ 60 s wall.
`--reference-lp-s` judges every plan against the LP optimum of the whole instance found by
an unhurried column generation (the planner's own bound, from its one-minute budget, is
lower; both are printed).
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass

from rich.console import Console
from rich.table import Table

from policies.policy import load_policy
from scheduler.core.colgen import column_generation
from scheduler.core.greedy import greedy
from scheduler.core.problem import Problem, build_problem
from scheduler.core.solve import DEFAULT_MIP_GAP, Builder, Method, Outcome, solve
from simulations.instances import random_instance


@dataclass(frozen=True)
class Row:
    """One planner run on one instance."""

    jobs: int
    planner: str
    outcome: Outcome
    wall_s: float


def run(p: Problem, n_jobs: int, planner: str, method: Method, builder: Builder,
        time_limit_s: float, mip_gap: float = DEFAULT_MIP_GAP) -> Row:
    """Plan once and time the whole call (wall seconds)."""
    t0 = time.perf_counter()
    out = solve(p, method, time_limit_s=time_limit_s, builder=builder, mip_gap=mip_gap)
    return Row(n_jobs, planner, out, time.perf_counter() - t0)


def reference_lp(p: Problem, time_limit_s: float) -> tuple[float, bool, float]:
    """(LP optimum over single-run columns, converged?, seconds) by column generation on the
    whole instance — what "within 1 % of the LP bound" is judged against."""
    t0 = time.perf_counter()
    master = column_generation(p, greedy(p), time_limit_s, tol=1e-6)
    seconds = time.perf_counter() - t0
    return master.lp_objective, seconds < time_limit_s, seconds


def fmt(value: float, spec: str = ",.1f") -> str:
    return format(value, spec) if abs(value) < 1e300 else "—"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", default="100,1000,5000,10000",
                    help="comma-separated job counts")
    ap.add_argument("--sites", type=int, default=8)
    ap.add_argument("--slots", type=int, default=96)
    ap.add_argument("--time-limit", type=float, default=60.0, help="seconds per MILP run")
    ap.add_argument("--pyomo-max", type=int, default=100,
                    help="largest job count the Pyomo reference is run on")
    ap.add_argument("--mip-gap", type=float, default=DEFAULT_MIP_GAP,
                    help="stop once a plan is proven within this gap (issue 9's targets: "
                         "100 jobs within 0.02, 1,000 and 10,000 within 0.01)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--reference-lp-s", type=float, default=0.0,
                    help="also run column generation on the whole instance for up to this "
                         "many seconds, to judge each plan against the LP bound (0: skip; "
                         "10,000 jobs need ~750 s)")
    args = ap.parse_args()
    if not 0.0 <= args.mip_gap < 1.0:
        ap.error(f"--mip-gap={args.mip_gap}: must be at least 0 and below 1")
    console = Console(width=200)
    table = Table(title=f"plan scale: {args.sites} sites × {args.slots} slots of 15 min, "
                        f"time limit {args.time_limit:g} s")
    for col in ("jobs", "planner", "method", "build s", "solve s", "wall s", "objective",
                "bound", "gap", "kg CO2", "late", "obj / greedy", "kg / asap",
                "wall / pyomo", "obj / ref LP"):
        table.add_column(col, justify="left" if col in {"planner", "method"} else "right")
    policy = load_policy("min-carbon")
    for n in (int(x) for x in args.jobs.split(",")):
        inst = random_instance(n, n_sites=args.sites, n_slots=args.slots, seed=args.seed)
        p = build_problem(inst.sites, inst.jobs, inst.forecasts, policy)
        rows = [run(p, n, "asap", Method.ASAP, Builder.FAST, args.time_limit),
                run(p, n, "greedy", Method.GREEDY, Builder.FAST, args.time_limit),
                run(p, n, "fast", Method.MILP, Builder.FAST, args.time_limit, args.mip_gap)]
        if n <= args.pyomo_max:
            rows.append(run(p, n, "pyomo", Method.MILP, Builder.PYOMO, args.time_limit,
                            args.mip_gap))
        by = {r.planner: r for r in rows}
        ref = reference_lp(p, args.reference_lp_s) if args.reference_lp_s > 0 else None
        if ref is not None:
            console.print(f"[dim]{n:,} jobs: reference LP {ref[0]:,.2f} "
                          f"({'converged' if ref[1] else 'NOT converged'}, {ref[2]:.0f} s)[/dim]")
        walls = ", ".join(f"{r.planner} {r.wall_s:.1f} s" for r in rows)
        console.print(f"[dim]{n:,} jobs: {walls}[/dim]")
        for r in rows:
            out = r.outcome
            pyomo = by.get("pyomo")
            table.add_row(
                f"{n:,}", r.planner, out.method, fmt(out.build_seconds, ".2f"),
                fmt(out.solve_seconds, ".2f"), fmt(r.wall_s, ".2f"), fmt(out.objective),
                fmt(out.bound), fmt(100 * out.gap, ".2f") + " %" if out.gap < 1e300 else "—",
                fmt(out.evaluation.total_kg_co2), str(int(out.evaluation.late.sum())),
                fmt(out.objective / by["greedy"].outcome.objective, ".3f"),
                fmt(out.evaluation.total_kg_co2 / by["asap"].outcome.evaluation.total_kg_co2,
                    ".3f"),
                fmt(r.wall_s / pyomo.wall_s, ".3f") if pyomo and r.planner == "fast" else "",
                fmt(out.objective / ref[0], ".4f") if ref else "")
    console.print(table)


if __name__ == "__main__":
    main()

"""`wattbit plan`: read sites/jobs/forecast files, plan, print tables, write plan.json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from forecasts.csv_file import read_forecast_csv
from inputs.cli_errors import exit_with_error
from inputs.errors import InputError
from policies.jobs_file import read_jobs_csv
from policies.policy import load_policy
from policies.sites_file import read_sites_yaml
from scheduler.core.plan import Plan, make_plan, plan_to_json
from scheduler.core.problem import build_problem
from scheduler.core.solve import Builder, Method, solve

EXAMPLES = Path(__file__).resolve().parents[1] / "simulations" / "examples"


def _fmt(t: object, tz: str) -> str:
    import pandas as pd

    return pd.Timestamp(t).tz_convert(tz).strftime("%m-%d %H:%M")


def print_plan(plan: Plan, console: Console, tz: str, max_jobs: int) -> None:
    """Per-site tables of which jobs run when, then the summary."""
    by_site: dict[str | None, list] = {}
    for jp in plan.jobs:
        by_site.setdefault(jp.site, []).append(jp)
    for site in plan.sites:
        jobs = sorted(by_site.get(site.id, []), key=lambda jp: jp.segments[0][0])
        table = Table(title=f"site {site.id}: {len(jobs)} jobs, "
                            f"{float(site.facility_kw.sum() * plan.slot_h):,.1f} kWh, "
                            f"{float(site.kg_co2.sum()):,.1f} kg-CO2", title_justify="left")
        for col in ("job", f"runs ({tz})", "kWh", "kg-CO2", "late"):
            table.add_column(col)
        for jp in jobs[:max_jobs]:
            runs = ", ".join(f"{_fmt(a, tz)}–{_fmt(b, tz)[-5:]}" for a, b in jp.segments)
            table.add_row(jp.id, runs, f"{jp.kwh:,.1f}", f"{jp.kg_co2:,.2f}",
                          "LATE" if jp.late else "")
        if len(jobs) > max_jobs:
            table.add_row(f"… {len(jobs) - max_jobs} more", "", "", "", "")
        console.print(table)
    unplaced = by_site.get(None, [])
    late = [jp.id for jp in plan.jobs if jp.late and jp.site is not None]
    if late:
        console.print(f"[yellow]{len(late)} job(s) finish after their deadline:[/] "
                      + ", ".join(late[:20]))
    if unplaced:
        console.print(f"[red]{len(unplaced)} job(s) fit nowhere in the horizon (kept for the "
                      "next plan):[/] " + ", ".join(jp.id for jp in unplaced[:20]))
    s = Table(title="summary", title_justify="left", show_header=False)
    saving = plan.saving_kg_co2
    pct = 100.0 * saving / plan.baseline_kg_co2 if plan.baseline_kg_co2 else 0.0
    rows = [
        ("facility energy", f"{plan.kwh:,.1f} kWh (baseline {plan.baseline_kwh:,.1f} kWh)"),
        ("emissions", f"{plan.kg_co2:,.2f} kg-CO2"),
        ("baseline (asap, home site)", f"{plan.baseline_kg_co2:,.2f} kg-CO2"),
        ("saving", f"{saving:,.2f} kg-CO2 ({pct:.1f} %)"),
        ("curtailment absorbed", f"{plan.curtailment_absorbed_kwh:,.1f} kWh"),
        ("objective / bound", f"{plan.objective:,.4f} / "
                              + (f"{plan.bound:,.4f}" if plan.bound > -1e300 else "none")),
        ("gap", f"{100 * plan.gap:.3f} %" if plan.gap < 1e300 else "unknown (no bound)"),
        ("method / status", f"{plan.method} / {plan.status}"),
        ("time", f"build {plan.build_seconds:.2f} s, solve {plan.solve_seconds:.2f} s"),
    ]
    for k, v in rows:
        s.add_row(k, v)
    console.print(s)


def plan_command(
    sites: Annotated[Path, typer.Option(help="sites.yaml")] = EXAMPLES / "sites.yaml",
    jobs: Annotated[Path, typer.Option(help="jobs.csv")] = EXAMPLES / "jobs.csv",
    forecast: Annotated[Path, typer.Option(help="forecast.csv")] = EXAMPLES / "forecast.csv",
    policy: Annotated[str, typer.Option(help="built-in policy name or a policy YAML file")]
    = "min-carbon",
    method: Annotated[Method, typer.Option(help="planner")] = Method.MILP,
    time_limit: Annotated[float, typer.Option(help="wall-clock budget, seconds")] = 60.0,
    mip_gap: Annotated[float, typer.Option(help="stop when within this relative gap")] = 1e-4,
    builder: Annotated[Builder, typer.Option(help="MILP builder")] = Builder.FAST,
    out: Annotated[Path | None, typer.Option(help="write plan.json here")] = None,
    tz: Annotated[str, typer.Option(help="time zone for printed times")] = "UTC",
    max_jobs: Annotated[int, typer.Option(help="jobs listed per site")] = 30,
) -> None:
    """Plan where and when each job runs; compare with the carbon-agnostic baseline."""
    try:
        pol = load_policy(policy)
        problem = build_problem(read_sites_yaml(sites), read_jobs_csv(jobs),
                                read_forecast_csv(forecast), pol)
    except InputError as err:
        exit_with_error(err)
    if time_limit <= 0:
        exit_with_error(InputError("--time-limit", "time_limit", time_limit, "must be > 0"))
    outcome = solve(problem, method, time_limit_s=time_limit, mip_gap=mip_gap, builder=builder)
    baseline = solve(problem, Method.ASAP)
    plan = make_plan(problem, outcome, baseline)
    print_plan(plan, Console(), tz, max_jobs)
    if out is not None:
        out.write_text(json.dumps(plan_to_json(plan), indent=1))

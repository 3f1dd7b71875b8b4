"""`wattbit plan`: read sites/jobs/forecast files, plan, print tables, write plan.json."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pandas as pd
import typer
from rich.console import Console
from rich.table import Table

from forecasts.csv_file import read_forecast_csv
from inputs.cli_errors import exit_with_error
from inputs.errors import InputError
from inputs.tables import parse_time
from policies.jobs_file import read_jobs_csv
from policies.limits import read_limits_csv
from policies.policy import load_policy
from policies.sites_file import read_sites_yaml
from scheduler.core.plan import Plan
from scheduler.core.planner import PlanConfig, Planner
from scheduler.core.solve import DEFAULT_MIP_GAP, Builder, Method
from scheduler.plan_file import read_plan_json, write_plan_json

EXAMPLES = Path(__file__).resolve().parents[1] / "simulations" / "examples"


def _fmt(t: object, tz: str) -> str:

    return pd.Timestamp(t).tz_convert(tz).strftime("%m-%d %H:%M")


def print_plan(plan: Plan, console: Console, tz: str, max_jobs: int) -> None:
    """Per-site tables of which jobs run when, then the summary."""
    by_site: dict[str | None, list] = {}
    for jp in plan.jobs:
        by_site.setdefault(jp.site, []).append(jp)
    for site in plan.sites:
        jobs = sorted(by_site.get(site.id, []), key=lambda jp: jp.segments[0][0])
        battery = ""
        if site.battery_charge_kw is not None and site.battery_discharge_kw is not None:
            kwh_in = float(site.battery_charge_kw.sum()) * plan.slot_h
            kwh_out = float(site.battery_discharge_kw.sum()) * plan.slot_h
            battery = f", battery {kwh_in:,.1f} kWh in, {kwh_out:,.1f} out"
        table = Table(title=f"site {site.id}: {len(jobs)} jobs, "
                            f"{float(site.facility_kw.sum() * plan.slot_h):,.1f} kWh, "
                            f"{float(site.kg_co2.sum()):,.1f} kg-CO2{battery}",
                      title_justify="left")
        for col in ("job", f"runs ({tz})", "kWh", "kg-CO2", "late"):
            table.add_column(col)
        for jp in jobs[:max_jobs]:
            runs = ", ".join(f"{_fmt(a, tz)}–{_fmt(b, tz)[-5:]}" for a, b in jp.segments)
            table.add_row(jp.id, runs, f"{jp.kwh:,.1f}", f"{jp.kg_co2:,.2f}",
                          "LATE" if jp.late else "")
        if len(jobs) > max_jobs:
            table.add_row(f"… {len(jobs) - max_jobs} more", "", "", "", "")
        console.print(table)
    unplaced = [jp for jp in by_site.get(None, []) if not jp.deferred]
    deferred = [jp for jp in by_site.get(None, []) if jp.deferred]
    late = [jp.id for jp in plan.jobs if jp.late and jp.site is not None]
    if late:
        console.print(f"[yellow]{len(late)} job(s) finish after their deadline:[/] "
                      + ", ".join(late[:20]))
    if deferred:
        console.print(f"{len(deferred)} job(s) deferred to a later plan (due after the "
                      "horizon): " + ", ".join(jp.id for jp in deferred[:20]))
    if unplaced:
        console.print(f"[red]{len(unplaced)} job(s) not placed (kept for the next plan):[/] "
                      + "; ".join(f"{jp.id} ({jp.note})" for jp in unplaced[:20]))
    for x in plan.limit_shortfalls[:20]:
        console.print(f"[yellow]limit not met:[/] site {x.site} {_fmt(x.start, tz)}: "
                      f"{x.kw:,.1f} kW {'above the max' if x.kind == 'max' else 'below the min'}")
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
    if plan.changed_jobs is not None:
        rows.append(("changed jobs (vs previous plan)", f"{plan.changed_jobs}"))
    if plan.forecast_stale:
        rows.append(("forecast", "[yellow]STALE[/] (a provider's last good forecast)"))
    for k, v in rows:
        s.add_row(k, v)
    console.print(s)


def _check_options(time_limit: float, mip_gap: float, tz: str, out: Path | None,
                   freeze_minutes: float, max_jobs: int) -> None:
    """Refuse bad option values before any work (not after solving)."""
    if time_limit <= 0:
        raise InputError("--time-limit", "time_limit", time_limit, "must be > 0")
    if not 0 <= mip_gap < 1:
        raise InputError("--mip-gap", "mip_gap", mip_gap, "must be ≥ 0 and < 1")
    if freeze_minutes < 0:
        raise InputError("--freeze-minutes", "freeze_minutes", freeze_minutes, "must be ≥ 0")
    if max_jobs < 0:
        raise InputError("--max-jobs", "max_jobs", max_jobs, "must be ≥ 0")
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise InputError("--tz", "tz", tz, "unknown time zone (e.g. UTC, Asia/Tokyo)") from None
    if out is not None:
        if out.is_dir():
            raise InputError("--out", "out", str(out), "is a folder; give a file name")
        if not out.parent.is_dir():
            raise InputError("--out", "out", str(out), f"folder {out.parent} does not exist")


def plan_command(
    sites: Annotated[Path, typer.Option(help="sites.yaml")] = EXAMPLES / "sites.yaml",
    jobs: Annotated[Path, typer.Option(help="jobs.csv")] = EXAMPLES / "jobs.csv",
    forecast: Annotated[Path, typer.Option(help="forecast.csv")] = EXAMPLES / "forecast.csv",
    policy: Annotated[str, typer.Option(help="built-in policy name or a policy YAML file")]
    = "min-carbon",
    method: Annotated[Method, typer.Option(help="planner")] = Method.MILP,
    time_limit: Annotated[float, typer.Option(help="wall-clock budget, seconds")] = 60.0,
    mip_gap: Annotated[float, typer.Option(help="stop once the plan is proven within this "
                                           "relative gap")] = DEFAULT_MIP_GAP,
    builder: Annotated[Builder, typer.Option(help="MILP builder")] = Builder.FAST,
    now: Annotated[str | None, typer.Option(help="plan from this time (ISO 8601 with offset):"
                                            " the horizon starts at its slot")] = None,
    limits: Annotated[Path | None, typer.Option(help="limits.csv: facility-kW limits per site "
                                                "and time window")] = None,
    previous: Annotated[Path | None, typer.Option(help="plan.json being replaced (warm start,"
                                                  " churn count)")] = None,
    freeze_minutes: Annotated[float, typer.Option(help="keep the previous plan's decisions for "
                                                  "jobs starting this soon after --now")] = 0.0,
    deterministic: Annotated[bool, typer.Option(help="work limits instead of the clock: the "
                                                "same plan on any machine")] = False,
    out: Annotated[Path | None, typer.Option(help="write plan.json here")] = None,
    tz: Annotated[str, typer.Option(help="time zone for printed times")] = "UTC",
    max_jobs: Annotated[int, typer.Option(help="jobs listed per site")] = 30,
) -> None:
    """Plan where and when each job runs; compare with the carbon-agnostic baseline."""
    try:
        _check_options(time_limit, mip_gap, tz, out, freeze_minutes, max_jobs)
        planner = Planner(read_sites_yaml(sites), load_policy(policy), PlanConfig(
            method=method, time_limit_s=time_limit, mip_gap=mip_gap, builder=builder,
            deterministic=deterministic, freeze_minutes=freeze_minutes))
        plan = planner.replan(
            parse_time("--now", "now", now) if now is not None else None, read_jobs_csv(jobs),
            read_forecast_csv(forecast),
            read_limits_csv(limits) if limits is not None else (),
            previous=read_plan_json(previous) if previous is not None else None)
    except InputError as err:
        exit_with_error(err)
    print_plan(plan, Console(), tz, max_jobs)
    if out is not None:
        write_plan_json(plan, out)

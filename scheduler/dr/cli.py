"""`wattbit dr capacity`: ΔkW of each site, from the re-planner's plan, as a table of
3-hour blocks, a JSON array or a plot of the curve."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

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
from scheduler.core.planner import PlanConfig, Planner
from scheduler.dr.baseline import read_meter_csv
from scheduler.dr.capacity import (
    BLOCK_MINUTES,
    DIRECTIONS,
    WINDOW_MINUTES,
    Capacity,
    block_starts,
    capacity_table,
)
from scheduler.dr.events import EventStore
from scheduler.dr.exporter import DrMetrics, publisher
from scheduler.dr.service import DrService

EXAMPLES = Path(__file__).resolve().parents[2] / "simulations" / "examples"

app = typer.Typer(help="Demand response: ΔkW the fleet can shed or add.", no_args_is_help=True)

# the fleet as files, the same options for every `dr` command
SitesOption = Annotated[Path, typer.Option(help="sites.yaml")]
JobsOption = Annotated[Path, typer.Option(help="jobs.csv")]
ForecastOption = Annotated[Path, typer.Option(help="forecast.csv")]
PolicyOption = Annotated[str, typer.Option(help="built-in policy name or a policy YAML file")]
AtOption = Annotated[str | None, typer.Option(help="plan from this time (ISO 8601 with offset)")]


def as_json(rows: list[Capacity]) -> str:
    """The public JSON form: one object per scope, direction, window and start."""
    return json.dumps([{"scope": r.scope, "id": r.id, "direction": r.direction,
                        "window_minutes": r.window_minutes, "start": r.start.isoformat(),
                        "kw": round(r.kw, 3)} for r in rows], indent=1)


def blocks(rows: list[Capacity]) -> pd.DataFrame:
    """3-hour block values (the 180-minute windows starting on a JST block boundary):
    rows (id, direction), columns block start (JST)."""
    frame = pd.DataFrame([r.__dict__ for r in rows if r.window_minutes == BLOCK_MINUTES])
    if frame.empty:
        return frame
    jst = pd.DatetimeIndex(frame["start"]).tz_convert("Asia/Tokyo")
    on_block = block_starts(jst)
    frame = frame[on_block].assign(block=jst[on_block].strftime("%m-%d %H:%M"))
    return frame.pivot_table(index=["scope", "id", "direction"], columns="block", values="kw",
                             sort=True)


def plot(rows: list[Capacity], path: Path) -> None:
    """The ΔkW curves (one panel per direction, a line per site and window)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 6), layout="constrained")
    axes = fig.subplots(len(DIRECTIONS), 1, sharex=True)
    frame = pd.DataFrame([r.__dict__ for r in rows])
    for ax, direction in zip(axes, DIRECTIONS, strict=True):
        part = frame[frame.direction == direction]
        for (sid, minutes), g in part.groupby(["id", "window_minutes"]):
            ax.step(pd.DatetimeIndex(g["start"]).tz_convert("Asia/Tokyo").tz_localize(None),
                    g["kw"], where="post", label=f"{sid} {minutes} min")
        ax.set_ylabel(f"ΔkW {direction} (facility kW)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, ncol=3)
    axes[-1].set_xlabel("window start (JST)")
    fig.savefig(path, dpi=100)


@app.command("capacity")
def capacity_command(
    sites: SitesOption = EXAMPLES / "sites.yaml",
    jobs: JobsOption = EXAMPLES / "jobs.csv",
    forecast: ForecastOption = EXAMPLES / "forecast.csv",
    policy: PolicyOption = "min-carbon",
    at: AtOption = None,
    limits: Annotated[Path | None, typer.Option(help="limits.csv in force")] = None,
    site: Annotated[list[str] | None, typer.Option(help="only these sites (repeatable)")]
    = None,
    window: Annotated[list[int] | None, typer.Option(
        help="window minutes (repeatable; default 30, 60, 180)")] = None,
    hours: Annotated[float, typer.Option(help="hours of window starts from the plan's start")]
    = 24.0,
    every: Annotated[int, typer.Option(help="minutes between window starts")] = 30,
    regions: Annotated[bool, typer.Option(
        help="also each grid region's sites together")] = True,
    query_time_limit: Annotated[float, typer.Option(help="seconds per ΔkW query")] = 5.0,
    as_json_out: Annotated[bool, typer.Option("--json", help="print the JSON array")] = False,
    plot_out: Annotated[Path | None, typer.Option("--plot", help="write the curves (PNG)")]
    = None,
) -> None:
    """ΔkW per site, direction (down = shed, up = add), window and start: how far facility
    power can move from the re-planner's plan with every deadline still met."""
    console = Console()
    try:
        if hours <= 0 or every <= 0 or query_time_limit <= 0:
            raise InputError("options", "hours/every/query-time-limit",
                             (hours, every, query_time_limit), "must all be > 0")
        windows = tuple(window or WINDOW_MINUTES)
        if any(w <= 0 for w in windows):
            raise InputError("--window", "window", list(windows), "minutes must be > 0")
        site_list = read_sites_yaml(sites)
        known = [s.id for s in site_list]
        for sid in site or []:
            if sid not in known:
                raise InputError("--site", "site", sid, f"unknown (sites: {', '.join(known)})")
        job_list, forecasts = read_jobs_csv(jobs), read_forecast_csv(forecast)
        pol = load_policy(policy)
        now = None if at is None else parse_time("--at", "at", at)
        lims = read_limits_csv(limits) if limits else []
        planner = Planner(site_list, pol, PlanConfig(deterministic=True))
        planner.replan(now, job_list, forecasts, lims)
        rows = capacity_table(planner.last_problem, planner.last_schedule, sites=site,
                              windows=windows,
                              hours=hours, every_minutes=every, time_limit_s=query_time_limit,
                              regions=regions)
        if plot_out is not None:
            plot(rows, plot_out)
    except InputError as err:
        exit_with_error(err)
    except OSError as err:
        exit_with_error(f"--plot: {plot_out}: {err.strerror or err}")
    if as_json_out:
        typer.echo(as_json(rows))
        return
    table = Table(title="ΔkW, facility kW held for the whole 3-hour block (JST)")
    block_frame = blocks(rows)
    for col in ("scope", "id", "direction"):
        table.add_column(col)
    for col in block_frame.columns:
        table.add_column(str(col), justify="right")
    for (scope, sid, direction), values in block_frame.iterrows():
        table.add_row(str(scope), str(sid), str(direction), *(f"{v:,.1f}" for v in values))
    console.print(table)
    frame = pd.DataFrame([r.__dict__ for r in rows])
    summary = frame.groupby(["scope", "id", "direction", "window_minutes"])["kw"].agg(
        ["min", "max"])
    console.print(f"{len(rows)} figures; range by scope, direction and window (kW):")
    for (scope, sid, direction, minutes), r in summary.iterrows():
        console.print(f"  {scope} {sid} {direction} {minutes} min: {r['min']:,.1f} … "
                      f"{r['max']:,.1f}")


@app.command("serve")
def serve_command(
    sites: SitesOption = EXAMPLES / "sites.yaml",
    jobs: JobsOption = EXAMPLES / "jobs.csv",
    forecast: ForecastOption = EXAMPLES / "forecast.csv",
    policy: PolicyOption = "min-carbon",
    at: AtOption = None,
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8080,
    token_file: Annotated[Path | None, typer.Option(
        help="file holding the bearer token for writes (e.g. a mounted Secret); without "
             "it every write is refused")] = None,
    open_reads: Annotated[bool, typer.Option(help="reads need no token")] = True,
    meter: Annotated[Path | None, typer.Option(
        help="meter.csv (site, time, kw): metered facility kW for delivery and the High 4 "
             "of 5 baseline")] = None,
    events_db: Annotated[Path | None, typer.Option(
        help="SQLite file of accepted DR events (default: dr-events.sqlite next to "
             "sites.yaml; in the working folder for the built-in example)")] = None,
) -> None:
    """Serve the DR API (/v1/dr/…, OpenAPI at /docs) and Prometheus metrics (/metrics) for
    a fleet given as files — no cluster needed."""
    import uvicorn

    from scheduler.dr.api import create_app

    try:
        token = None
        if token_file is not None:
            token = read_token(token_file)
        service = DrService(read_sites_yaml(sites), read_jobs_csv(jobs),
                            read_forecast_csv(forecast), load_policy(policy),
                            EventStore(events_db or events_path(sites)),
                            now=None if at is None else parse_time("--at", "at", at),
                            meter=read_meter_csv(meter) if meter else None)
        metrics = DrMetrics()
        service.on_replan = publisher(metrics, service)
        service.replan()
    except InputError as err:
        exit_with_error(err)
    app_ = create_app(service, token, open_reads=open_reads, metrics=metrics)
    uvicorn.run(app_, host=host, port=port, log_level="info")


def events_path(sites: Path) -> Path:
    """Where DR events are kept by default: next to sites.yaml (in the working folder for
    the built-in example, which lives inside the package)."""
    name = "dr-events.sqlite"
    return Path(name) if sites.resolve().parent == EXAMPLES.resolve() else sites.parent / name


def read_token(path: Path) -> str:
    """The bearer token in `path` (surrounding whitespace stripped; must not be empty)."""
    from inputs.files import read_text

    token = read_text(path).strip()
    if not token:
        raise InputError(str(path), "token", "", "the token file is empty")
    return token

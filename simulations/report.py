"""Write a `SimulationResult` to a folder: CSV/Parquet tables, the scenario, plots, HTML.

Units as in `simulations.results`: energy kWh (MWh where named), power kW (curtailment MW),
emissions kg-CO2, money JPY, delays hours, carbon intensity gCO2/kWh. Times are UTC.
A value that is not known (NaN) is shown as "—" in the HTML and the terminal, never as 0.

Plots are drawn on a bare `matplotlib.figure.Figure` rendered by the Agg canvas: no pyplot,
no global figure state, so writing reports from several threads is safe.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from rich.table import Table
from rich.text import Text

from simulations.results import (
    JOB_COLUMNS,
    SITE_COLUMNS,
    SLOT_COLUMNS,
    SUMMARY_COLUMNS,
    SimulationResult,
)

DASH = "—"
"""How a value that is not known (NaN, None, NaT) is shown."""

_SLOT_TIME_COLUMNS = ("slot_start",)
_JOB_TIME_COLUMNS = ("release", "deadline", "start", "end")
_PLOTS = ("load_by_site.png", "cumulative_emissions.png", "delay_distribution.png")
_DPI = 110

Formatter = Callable[[Any], str]


# --- number formatting ----------------------------------------------------------------------


def _missing(value: Any) -> bool:
    """Whether `value` is NaN, None, NaT or pd.NA (non-scalars are never missing)."""
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _formatter(spec: str) -> Formatter:
    """A formatter for numbers with the format `spec` (e.g. ",.1f", ".1%"); "—" for missing
    values, ∞ for infinite ones, other values as text."""

    def fmt(value: Any) -> str:
        if _missing(value):
            return DASH
        try:
            x = float(value)
        except (TypeError, ValueError):
            return str(value)
        if math.isinf(x):
            return "∞" if x > 0 else "−∞"
        return format(x, spec)

    return fmt


def _number(decimals: int, thousands: bool = True) -> Formatter:
    """Fixed `decimals`, optional thousands separators."""
    return _formatter(f"{',' if thousands else ''}.{decimals}f")


def _percent(decimals: int = 1) -> Formatter:
    """Shares given as fractions (0.25 → "25.0%")."""
    return _formatter(f".{decimals}%")


def _text(value: Any) -> str:
    return DASH if _missing(value) else str(value)


_SUMMARY_FORMAT: dict[str, tuple[str, Formatter]] = {
    "policy": ("policy", _text),
    "kg_co2_location": ("kg CO2 (location)", _number(1)),
    "kg_co2_market": ("kg CO2 (market)", _number(1)),
    "curtailment_absorbed_mwh": ("curtailment absorbed (MWh)", _number(3)),
    "cost_jpy": ("cost (JPY)", _number(0)),
    "deadline_misses": ("deadline misses", _number(0)),
    "mean_delay_h": ("mean delay (h)", _number(2)),
    "p95_delay_h": ("p95 delay (h)", _number(2)),
    "planner_seconds": ("planner (s)", _number(2)),
    "share_of_oracle_saving": ("share of oracle saving", _percent(1)),
}
"""Summary column → (header, cell formatter), in `SUMMARY_COLUMNS` order."""

_SITE_FORMAT: dict[str, tuple[str, Formatter]] = {
    "policy": ("policy", _text),
    "site": ("site", _text),
    "pue": ("PUE", _number(3)),
    "gec": ("GEC", _percent(1)),
    "iteu": ("ITEU", _percent(1)),
    "facility_mwh": ("facility (MWh)", _number(3)),
    "it_mwh": ("IT (MWh)", _number(3)),
}
"""Site column → (header, cell formatter), in `SITE_COLUMNS` order."""

_NUMERIC_SUMMARY = SUMMARY_COLUMNS[1:]


# --- tables ---------------------------------------------------------------------------------


def _contract(df: pd.DataFrame | None, columns: Sequence[str], name: str) -> pd.DataFrame:
    """A copy of `df` with exactly `columns` in order; an empty table may lack columns.

    Raises ValueError naming the missing columns of a non-empty table."""
    if df is None or len(df) == 0:
        return (pd.DataFrame() if df is None else df).reindex(columns=list(columns))
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"{name} table lacks columns {missing}")
    return df.loc[:, list(columns)].copy()


def _to_utc(col: pd.Series) -> pd.Series:
    """`col` as tz-aware UTC datetimes (naive values are taken as UTC; missing → NaT)."""
    if len(col) == 0:
        return pd.Series(pd.DatetimeIndex([], tz="UTC"), index=col.index, name=col.name)
    return pd.to_datetime(col, utc=True)


def _iso(col: pd.Series) -> pd.Series:
    """`col` as ISO 8601 strings with the UTC offset (2026-05-03T00:00:00+00:00); NaT → ""."""
    text = _to_utc(col).dt.strftime("%Y-%m-%dT%H:%M:%S+00:00")
    return text.astype(object).where(text.notna(), "")


def _with_utc(df: pd.DataFrame, time_columns: Sequence[str]) -> pd.DataFrame:
    """A copy of `df` with `time_columns` as tz-aware UTC datetimes."""
    out = df.copy()
    for c in time_columns:
        out[c] = _to_utc(out[c])
    return out


def _with_iso(df: pd.DataFrame, time_columns: Sequence[str]) -> pd.DataFrame:
    """A copy of `df` with `time_columns` as ISO 8601 UTC strings (for CSV)."""
    out = df.copy()
    for c in time_columns:
        out[c] = _iso(out[c])
    return out


def _policies(result: SimulationResult) -> list[str]:
    """Policy names in summary order, then any only seen in slots or jobs."""
    names: list[str] = []
    for df in (result.summary, result.slots, result.jobs):
        if df is not None and "policy" in df.columns:
            for p in pd.unique(df["policy"].dropna()):
                if str(p) not in names:
                    names.append(str(p))
    return names


# --- plots ----------------------------------------------------------------------------------


def _label(text: Any) -> str:
    """`text` safe for a matplotlib label ("$" would start mathtext)."""
    return str(text).replace("$", r"\$")


def _naive_utc(ts: pd.Series | pd.DatetimeIndex) -> np.ndarray:
    """Tz-aware UTC times as naive datetime64 for matplotlib."""
    return pd.DatetimeIndex(ts).tz_convert("UTC").tz_localize(None).to_numpy()


def _slot_length(slots: pd.DataFrame) -> pd.Timedelta:
    """The slot length: the smallest gap between distinct slot starts (1 h if unknown)."""
    t = pd.DatetimeIndex(slots["slot_start"].dropna().unique()).sort_values()
    gaps = t[1:] - t[:-1]
    return gaps.min() if len(gaps) else pd.Timedelta(hours=1)


def _steps(times: pd.Series, values: pd.Series,
           slot: pd.Timedelta) -> tuple[np.ndarray, np.ndarray]:
    """Per-slot values as a steps-post line that also covers the last slot."""
    t = pd.DatetimeIndex(times)
    edges = t.append(pd.DatetimeIndex([t[-1] + slot]))
    v = values.to_numpy(dtype=float)
    return _naive_utc(edges), np.append(v, v[-1])


def _no_data(ax: Axes, message: str) -> None:
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes)


def _save(fig: Figure, path: Path) -> Path:
    fig.savefig(path, dpi=_DPI)
    return path


def _plot_policy(slots: pd.DataFrame, policies: Sequence[str]) -> str | None:
    """The policy the load plot shows: "milp", else the first non-"asap", else the first,
    among policies that have slots (None when none has)."""
    have = [p for p in policies if (slots["policy"].astype(str) == p).any()]
    if "milp" in have:
        return "milp"
    return next((p for p in have if p != "asap"), have[0] if have else None)


def _plot_load(slots: pd.DataFrame, policies: Sequence[str], path: Path) -> Path:
    """Facility kW per site (top) and each region's curtailment MW and carbon gCO2/kWh
    (bottom, carbon on the right axis) over time, for one policy."""
    fig = Figure(figsize=(11, 7), layout="constrained")
    FigureCanvasAgg(fig)
    ax_load, ax_curt = fig.subplots(2, 1, sharex=True)
    ax_carbon = ax_curt.twinx()
    policy = _plot_policy(slots, policies)
    if policy is None:
        _no_data(ax_load, "no slots")
        fig.suptitle("Facility load by site")
        return _save(fig, path)
    df = slots[slots["policy"].astype(str) == policy].dropna(subset=["slot_start"])
    slot = _slot_length(df)
    fig.suptitle(_label(f"Facility load by site — policy {policy}"))
    for site, g in df.groupby("site", sort=True):
        g = g.sort_values("slot_start")
        ax_load.plot(*_steps(g["slot_start"], g["facility_kw"], slot), drawstyle="steps-post",
                     lw=1.0, label=_label(site))
    handles, labels = [], []
    for i, (region, g) in enumerate(df.groupby("region", sort=True)):
        g = g.drop_duplicates("slot_start").sort_values("slot_start")
        color = f"C{i % 10}"
        (h1,) = ax_curt.plot(*_steps(g["slot_start"], g["curtailment_mw"], slot), color=color,
                             drawstyle="steps-post", lw=1.0,
                             label=_label(f"{region} curtailment"))
        (h2,) = ax_carbon.plot(*_steps(g["slot_start"], g["carbon_gco2_per_kwh"], slot),
                               color=color, drawstyle="steps-post", ls="--", lw=0.8,
                               label=_label(f"{region} carbon"))
        handles += [h1, h2]
        labels += [h1.get_label(), h2.get_label()]
    ax_load.set_ylabel("facility power (kW)")
    ax_curt.set_ylabel("curtailment (MW)")
    ax_carbon.set_ylabel("carbon intensity (gCO2/kWh)")
    ax_curt.set_xlabel("time (UTC)")
    if ax_load.get_lines():
        ax_load.legend(loc="upper right", fontsize="small")
    if handles:
        ax_curt.legend(handles, labels, loc="upper right", fontsize="small")
    for ax in (ax_load, ax_curt):
        ax.grid(True, lw=0.3)
    return _save(fig, path)


def _plot_emissions(slots: pd.DataFrame, policies: Sequence[str], path: Path) -> Path:
    """Cumulative kg-CO2 (location-based, all sites) over time, one line per policy."""
    fig = Figure(figsize=(11, 5), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    slot = _slot_length(slots) if len(slots) else pd.Timedelta(hours=1)
    for policy in policies:
        df = slots[slots["policy"].astype(str) == policy].dropna(subset=["slot_start"])
        if df.empty:
            continue
        cum = df.groupby("slot_start")["kg_co2_location"].sum().sort_index().cumsum()
        # emissions accrue through each slot: 0 at the first start, the total at the last end
        t = pd.DatetimeIndex(cum.index)
        ax.plot(_naive_utc(t[:1].append(t + slot)), np.append(0.0, cum.to_numpy(dtype=float)),
                lw=1.2, label=_label(policy))
    ax.set_title("Cumulative emissions (location-based)")
    ax.set_ylabel("kg CO2")
    ax.set_xlabel("time (UTC)")
    ax.grid(True, lw=0.3)
    if ax.get_lines():
        ax.legend(loc="upper left", fontsize="small")
    else:
        _no_data(ax, "no slots")
    return _save(fig, path)


def _plot_delays(jobs: pd.DataFrame, policies: Sequence[str], path: Path) -> Path:
    """ECDF of the start delay (hours) of the jobs that started, one line per policy."""
    fig = Figure(figsize=(8, 5), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    started = jobs[jobs["start"].notna()] if len(jobs) else jobs
    for policy in policies:
        d = pd.to_numeric(started.loc[started["policy"].astype(str) == policy, "delay_h"],
                          errors="coerce").to_numpy(dtype=float)
        d = np.sort(d[np.isfinite(d)])
        if d.size == 0:
            continue
        y = np.arange(1, d.size + 1) / d.size
        ax.step(np.concatenate([[d[0]], d]), np.concatenate([[0.0], y]), where="post",
                lw=1.2, label=_label(f"{policy} (n={d.size})"))
    ax.set_title("Start delay of started jobs (ECDF)")
    ax.set_xlabel("delay (h)")
    ax.set_ylabel("share of started jobs")
    ax.set_ylim(0, 1.02)
    ax.grid(True, lw=0.3)
    if ax.get_lines():
        ax.legend(loc="lower right", fontsize="small")
    else:
        _no_data(ax, "no job started")
    return _save(fig, path)


# --- HTML -----------------------------------------------------------------------------------


def _html_table(df: pd.DataFrame, formats: dict[str, tuple[str, Formatter]]) -> str:
    """An HTML table of `df` with the headers and cell formats of `formats`, all escaped."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h, _ in formats.values())
    rows = []
    for rec in df.to_dict("records"):
        cells = []
        for col, (_, fmt) in formats.items():
            cls = ' class="num"' if fmt is not _text else ""
            cells.append(f"<td{cls}>{html.escape(fmt(rec.get(col)))}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    if not rows:
        rows.append(f'<tr><td colspan="{len(formats)}">{DASH}</td></tr>')
    return ("<table>\n<thead><tr>" + head + "</tr></thead>\n<tbody>\n"
            + "\n".join(rows) + "\n</tbody>\n</table>")


_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; }
th { background: #f3f3f3; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
img { max-width: 100%; display: block; margin: 1em 0; }
.meta { color: #555; }
"""


def _html(result: SimulationResult, summary: pd.DataFrame, sites: pd.DataFrame,
          slots: pd.DataFrame, jobs: pd.DataFrame, files: Sequence[str]) -> str:
    """The self-contained report page (its images are the PNGs beside it)."""
    name = result.scenario.get("name") if isinstance(result.scenario, dict) else None
    title = f"wattbit simulation — {name}" if not _missing(name) and name != "" else (
        "wattbit simulation")
    esc = html.escape
    meta = [f"{len(_policies(result))} policies", f"{len(jobs)} job rows"]
    if len(slots):
        t = _to_utc(slots["slot_start"]).dropna()
        if len(t):
            meta.append(f"slots from {t.min().isoformat()} to {t.max().isoformat()} (UTC)")
    timings = ""
    if result.timings_s:
        fmt = _number(2)
        timings = "<p class=\"meta\">Timings (s): " + ", ".join(
            f"{esc(str(k))} {esc(fmt(v))}" for k, v in result.timings_s.items()) + "</p>"
    links = " · ".join(f'<a href="{esc(f)}">{esc(f)}</a>' for f in files)
    imgs = "\n".join(f'<img src="{esc(p)}" alt="{esc(p[:-4].replace("_", " "))}">'
                     for p in _PLOTS)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{esc(title)}</title>
<style>{_CSS}</style>
</head>
<body>
<h1>{esc(title)}</h1>
<p class="meta">{esc(", ".join(meta))}</p>
{timings}
<h2>Summary by policy</h2>
<p class="meta">Emissions kg CO2, energy MWh, cost JPY, delays hours; — = not known.</p>
{_html_table(summary, _SUMMARY_FORMAT)}
<h2>Site indicators (ISO/IEC 30134)</h2>
<p class="meta">PUE = facility / IT energy; GEC = zero-carbon share of facility energy;
ITEU = IT energy used / IT energy the GPUs could use.</p>
{_html_table(sites, _SITE_FORMAT)}
<h2>Plots</h2>
{imgs}
<h2>Files</h2>
<p>{links}</p>
</body>
</html>
"""


# --- public API -----------------------------------------------------------------------------


def write_results(result: SimulationResult, out_dir: Path) -> dict[str, Path]:
    """Write `result` into `out_dir` (created with parents; other files there are left
    alone, ours overwritten) and return file name → path of everything written:

    summary.csv (`SUMMARY_COLUMNS`), slots.csv and slots.parquet (`SLOT_COLUMNS`), jobs.csv
    (`JOB_COLUMNS`), sites.csv (`SITE_COLUMNS`), scenario.yaml, three PNG plots and
    report.html. CSV times are ISO 8601 with the UTC offset (NaT → empty), NaN → empty;
    the Parquet file keeps tz-aware UTC timestamps. Raises ValueError when a non-empty
    table lacks one of its contract columns."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    summary = _contract(result.summary, SUMMARY_COLUMNS, "summary")
    slots = _with_utc(_contract(result.slots, SLOT_COLUMNS, "slots"), _SLOT_TIME_COLUMNS)
    jobs = _with_utc(_contract(result.jobs, JOB_COLUMNS, "jobs"), _JOB_TIME_COLUMNS)
    sites = _contract(result.sites, SITE_COLUMNS, "sites")
    policies = _policies(result)

    written: dict[str, Path] = {}

    def path(name: str) -> Path:
        written[name] = out / name
        return written[name]

    summary.to_csv(path("summary.csv"), index=False)
    _with_iso(slots, _SLOT_TIME_COLUMNS).to_csv(path("slots.csv"), index=False)
    slots.to_parquet(path("slots.parquet"), index=False)
    _with_iso(jobs, _JOB_TIME_COLUMNS).to_csv(path("jobs.csv"), index=False)
    sites.to_csv(path("sites.csv"), index=False)
    with path("scenario.yaml").open("w", encoding="utf-8") as fh:
        yaml.safe_dump(result.scenario, fh, sort_keys=False, allow_unicode=True)
    _plot_load(slots, policies, path("load_by_site.png"))
    _plot_emissions(slots, policies, path("cumulative_emissions.png"))
    _plot_delays(jobs, policies, path("delay_distribution.png"))
    page = _html(result, summary, sites, slots, jobs, list(written))
    path("report.html").write_text(page, encoding="utf-8")
    return written


def summary_table(result: SimulationResult) -> Table:
    """The summary by policy for the terminal: kg CO2 and JPY with thousands separators,
    MWh, hours and seconds rounded, the oracle-saving share as a percentage, NaN as "—".
    All text is literal (no rich markup is interpreted)."""
    name = result.scenario.get("name") if isinstance(result.scenario, dict) else None
    title = f"Summary — {name}" if not _missing(name) and name != "" else "Summary"
    return frame_table(_contract(result.summary, SUMMARY_COLUMNS, "summary"), title)


def frame_table(frame: pd.DataFrame, title: str) -> Table:
    """A summary-like frame for the terminal: the summary columns formatted as in
    `summary_table`, any other (e.g. a sweep's parameter) columns as text first."""
    extra = [c for c in frame.columns if c not in _SUMMARY_FORMAT]
    table = Table(title=Text(title))
    for col in extra:
        table.add_column(Text(str(col)))
    shown = [c for c in _SUMMARY_FORMAT if c in frame.columns]
    for col in shown:
        header = _SUMMARY_FORMAT[col][0]
        table.add_column(Text(header), justify="right" if col in _NUMERIC_SUMMARY else "left")
    for rec in frame.to_dict("records"):
        table.add_row(*(Text(_text(rec.get(col))) for col in extra),
                      *(Text(_SUMMARY_FORMAT[col][1](rec.get(col))) for col in shown))
    return table

"""simulations.report: the result folder (CSV, Parquet, YAML, PNG, HTML) and the terminal table."""

from __future__ import annotations

import math
import re
from concurrent.futures import ThreadPoolExecutor
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from rich.console import Console

from simulations.report import summary_table, write_results
from simulations.results import (
    JOB_COLUMNS,
    SITE_COLUMNS,
    SLOT_COLUMNS,
    SUMMARY_COLUMNS,
    SimulationResult,
)

T0 = pd.Timestamp("2026-05-03T00:00:00Z")
SLOTS = 48
SLOT_H = 0.5
SITES = {"tokyo-1": ("tokyo", 1.3), "sapporo-1": ("hokkaido", 1.15)}
POLICIES = ("asap", "milp")
NAME = "spring week <script>alert('x')</script> & co"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
PLOTS = ("load_by_site.png", "cumulative_emissions.png", "delay_distribution.png")
FILES = ("summary.csv", "slots.csv", "slots.parquet", "jobs.csv", "sites.csv",
         "scenario.yaml", *PLOTS, "report.html")


def _signals(region: str, i: int) -> tuple[float, float, float]:
    """Carbon gCO2/kWh, curtailment MW and price JPY/kWh of `region` in slot `i`."""
    day = math.sin(2 * math.pi * (i - 12) / 48)
    if region == "tokyo":
        return 470.0 - 60 * day, 0.0, 14.0 + 4 * day
    return 380.0 - 150 * max(day, 0.0), 25.0 * max(day, 0.0), 11.0 + 3 * day


def _slots() -> pd.DataFrame:
    rows = []
    for policy in POLICIES:
        for site, (region, pue) in SITES.items():
            for i in range(SLOTS):
                carbon, curt_mw, price = _signals(region, i)
                # asap runs flat out early; milp shifts load to the sunny hokkaido hours
                if policy == "asap":
                    it_kw = 800.0 if i < 24 else 200.0
                else:
                    it_kw = 900.0 if (region == "hokkaido" and curt_mw > 0) else 300.0
                fac_kw = it_kw * pue
                fac_kwh = fac_kw * SLOT_H
                zero = min(fac_kwh, curt_mw * 1000 * SLOT_H * 0.1)
                rows.append({
                    "policy": policy, "slot_start": T0 + pd.Timedelta(hours=i * SLOT_H),
                    "site": site, "region": region, "it_kw": it_kw, "facility_kw": fac_kw,
                    "facility_kwh": fac_kwh, "zero_carbon_kwh": zero,
                    "kg_co2_location": fac_kwh * carbon / 1000,
                    "kg_co2_market": (fac_kwh - zero) * carbon / 1000,
                    # milp ran without prices: its cost is not known
                    "cost_jpy": fac_kwh * price if policy == "asap" else np.nan,
                    "carbon_gco2_per_kwh": carbon, "curtailment_mw": curt_mw, "pue": pue,
                })
    return pd.DataFrame(rows, columns=list(SLOT_COLUMNS))


def _jobs() -> pd.DataFrame:
    rows = []
    for policy in POLICIES:
        shift = 0.0 if policy == "asap" else 3.5
        for k, (dur, sites) in enumerate([(4.0, "tokyo-1"), (6.0, "sapporo-1"),
                                          (2.0, "tokyo-1|sapporo-1")]):
            release = T0 + pd.Timedelta(hours=k)
            start = release + pd.Timedelta(hours=shift + k * 0.5)
            end = start + pd.Timedelta(hours=dur)
            rows.append({
                "policy": policy, "job_id": f"job-{k}", "sites": sites, "release": release,
                "deadline": release + pd.Timedelta(hours=20), "start": start, "end": end,
                "delay_h": (start - release) / pd.Timedelta(hours=1), "late": False,
                "done_h": dur, "pieces": 1 + sites.count("|"),
                "migrations": sites.count("|"),
            })
        # one job that never started
        rows.append({
            "policy": policy, "job_id": "job-x", "sites": "", "release": T0,
            "deadline": T0 + pd.Timedelta(hours=2), "start": pd.NaT, "end": pd.NaT,
            "delay_h": np.nan, "late": True, "done_h": 0.0, "pieces": 0, "migrations": 0,
        })
    df = pd.DataFrame(rows, columns=list(JOB_COLUMNS))
    for c in ("release", "deadline", "start", "end"):
        df[c] = pd.to_datetime(df[c], utc=True)
    return df


def _summary(slots: pd.DataFrame, jobs: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for policy in POLICIES:
        s = slots[slots["policy"] == policy]
        j = jobs[jobs["policy"] == policy]
        delays = j["delay_h"].dropna()
        rows.append({
            "policy": policy,
            "kg_co2_location": s["kg_co2_location"].sum(),
            "kg_co2_market": s["kg_co2_market"].sum(),
            "curtailment_absorbed_mwh": s["zero_carbon_kwh"].sum() / 1000,
            "cost_jpy": s["cost_jpy"].sum(min_count=len(s)),
            "deadline_misses": int(j["late"].sum()),
            "mean_delay_h": delays.mean(),
            "p95_delay_h": delays.quantile(0.95),
            "planner_seconds": 0.01 if policy == "asap" else 2.75,
            "share_of_oracle_saving": 0.0 if policy == "asap" else 0.8125,
        })
    return pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS))


def _sites(slots: pd.DataFrame) -> pd.DataFrame:
    g = slots.groupby(["policy", "site"], sort=False)
    fac = g["facility_kwh"].sum()
    it = g["it_kw"].sum() * SLOT_H
    zero = g["zero_carbon_kwh"].sum()
    out = pd.DataFrame({"pue": fac / it, "gec": zero / fac, "iteu": it / (1000 * SLOTS * SLOT_H),
                        "facility_mwh": fac / 1000, "it_mwh": it / 1000}).reset_index()
    return out[list(SITE_COLUMNS)]


def _result(name: str = NAME) -> SimulationResult:
    slots, jobs = _slots(), _jobs()
    scenario = {"name": name, "start": T0.isoformat(), "horizon_h": SLOTS * SLOT_H,
                "slot_minutes": 30, "policies": list(POLICIES),
                "sites": [{"id": s, "region": r, "pue": p} for s, (r, p) in SITES.items()]}
    return SimulationResult(scenario=scenario, summary=_summary(slots, jobs), slots=slots,
                            jobs=jobs, sites=_sites(slots),
                            timings_s={"planning": 2.76, "accounting": 0.05})


class _Page(HTMLParser):
    """Collects the title, image sources, start tags and table cells of a page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.imgs: list[str] = []
        self.rows: list[list[str]] = []
        self.title = ""
        self.h1 = ""
        self._in: str | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag == "img":
            self.imgs.append(dict(attrs)["src"] or "")
        elif tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag in ("title", "h1"):
            self._in = tag

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append("".join(self._cell).strip())
            self._cell = None
        elif tag in ("title", "h1"):
            self._in = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)
        if self._in == "title":
            self.title += data
        elif self._in == "h1":
            self.h1 += data


def _parse(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    page.close()
    return page


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> tuple[SimulationResult, dict[str, Path]]:
    result = _result()
    return result, write_results(result, tmp_path_factory.mktemp("run") / "out" / "deep")


def test_every_file_is_written_and_returned(written) -> None:
    _, files = written
    assert set(files) == set(FILES)
    for name, path in files.items():
        assert path.name == name
        assert path.is_file() and path.stat().st_size > 0, name


def test_summary_csv_round_trips_with_exactly_the_contract_columns(written) -> None:
    result, files = written
    back = pd.read_csv(files["summary.csv"])
    assert tuple(back.columns) == SUMMARY_COLUMNS
    pd.testing.assert_frame_equal(back, result.summary, check_dtype=False)
    assert math.isnan(back.loc[back["policy"] == "milp", "cost_jpy"].item())


def test_slots_parquet_round_trips_tz_aware_utc(written) -> None:
    result, files = written
    back = pd.read_parquet(files["slots.parquet"])
    assert tuple(back.columns) == SLOT_COLUMNS
    assert isinstance(back["slot_start"].dtype, pd.DatetimeTZDtype)
    assert str(back["slot_start"].dt.tz) == "UTC"
    assert len(back) == len(POLICIES) * len(SITES) * SLOTS
    pd.testing.assert_frame_equal(back, result.slots, check_dtype=False)


def test_csv_times_are_iso_8601_utc_with_offset(written) -> None:
    _, files = written
    slots = pd.read_csv(files["slots.csv"], dtype={"slot_start": str})
    assert tuple(slots.columns) == SLOT_COLUMNS
    assert slots["slot_start"].iloc[0] == "2026-05-03T00:00:00+00:00"
    assert slots["slot_start"].str.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00").all()
    jobs = pd.read_csv(files["jobs.csv"], dtype={"start": str, "sites": str},
                       keep_default_na=False)
    assert tuple(jobs.columns) == JOB_COLUMNS
    never = jobs[jobs["job_id"] == "job-x"]
    assert (never["start"] == "").all() and (never["end"] == "").all()
    assert pd.to_datetime(jobs.loc[jobs["start"] != "", "start"]).dt.tz is not None
    sites = pd.read_csv(files["sites.csv"])
    assert tuple(sites.columns) == SITE_COLUMNS


def test_scenario_yaml_is_the_scenario(written) -> None:
    result, files = written
    assert yaml.safe_load(files["scenario.yaml"].read_text(encoding="utf-8")) == result.scenario


def test_plots_are_real_pngs(written) -> None:
    _, files = written
    for name in PLOTS:
        data = files[name].read_bytes()
        assert data[:8] == PNG_MAGIC, name
        assert len(data) > 10_000, name


def test_report_html_parses_and_shows_every_policy_plot_and_dash_for_nan(written) -> None:
    result, files = written
    raw = files["report.html"].read_text(encoding="utf-8")
    page = _parse(files["report.html"])
    assert set(PLOTS) <= set(page.imgs)
    for src in page.imgs:  # self-contained: only the PNGs beside it
        assert (files["report.html"].parent / src).is_file()
    assert "http://" not in raw and "https://" not in raw
    cells = [c for row in page.rows for c in row]
    for policy in POLICIES:
        assert policy in cells
    header = next(r for r in page.rows if "policy" in r and "cost (JPY)" in r)
    milp = next(r for r in page.rows if r and r[0] == "milp" and len(r) == len(header))
    asap = next(r for r in page.rows if r and r[0] == "asap" and len(r) == len(header))
    cost = header.index("cost (JPY)")
    assert milp[cost] == "—"
    assert asap[cost] != "—" and re.fullmatch(r"\d{1,3}(,\d{3})*", asap[cost])
    assert not any(c.lower() in ("nan", "0", "0.0", "<na>", "nat") for c in milp)
    assert not any(c.lower() in ("nan", "<na>", "nat") for c in cells)
    # per-site indicator table: one row per policy and site
    site_rows = [r for r in page.rows if len(r) == len(SITE_COLUMNS) and r[1] in SITES]
    assert len(site_rows) == len(POLICIES) * len(SITES)
    assert NAME in page.title and NAME in page.h1
    assert result.scenario["name"] in page.h1


def test_scenario_name_is_escaped(written) -> None:
    _, files = written
    raw = files["report.html"].read_text(encoding="utf-8")
    page = _parse(files["report.html"])
    assert "<script" not in raw.lower()
    assert "&lt;script&gt;" in raw
    assert "script" not in page.tags


def test_edge_cases_do_not_crash(tmp_path: Path) -> None:
    """No job rows, a policy with no slots, every cost NaN, an existing non-empty folder."""
    result = _result(name="edge $x$ [bold]")
    result.jobs = pd.DataFrame(columns=list(JOB_COLUMNS))
    result.slots = result.slots.assign(cost_jpy=np.nan)
    extra = result.summary.iloc[[0]].assign(policy="oracle", cost_jpy=np.nan,
                                            mean_delay_h=np.nan, p95_delay_h=np.nan,
                                            share_of_oracle_saving=np.nan)
    result.summary = pd.concat([result.summary.assign(cost_jpy=np.nan), extra],
                               ignore_index=True)
    other = tmp_path / "notes.txt"
    other.write_text("keep me", encoding="utf-8")
    (tmp_path / "summary.csv").write_text("stale", encoding="utf-8")

    files = write_results(result, tmp_path)

    assert other.read_text(encoding="utf-8") == "keep me"
    assert tuple(pd.read_csv(files["summary.csv"]).columns) == SUMMARY_COLUMNS
    jobs = pd.read_csv(files["jobs.csv"])
    assert tuple(jobs.columns) == JOB_COLUMNS and jobs.empty
    for name in PLOTS:
        assert files[name].read_bytes()[:8] == PNG_MAGIC
    page = _parse(files["report.html"])
    header = next(r for r in page.rows if "cost (JPY)" in r)
    cost = header.index("cost (JPY)")
    policy_rows = [r for r in page.rows if len(r) == len(header) and r[0] in
                   (*POLICIES, "oracle")]
    assert len(policy_rows) == 3
    assert all(r[cost] == "—" for r in policy_rows)
    oracle = next(r for r in policy_rows if r[0] == "oracle")
    assert oracle[header.index("share of oracle saving")] == "—"


def test_all_empty_result_still_writes(tmp_path: Path) -> None:
    result = SimulationResult(scenario={}, summary=pd.DataFrame(), slots=pd.DataFrame(),
                              jobs=pd.DataFrame(), sites=pd.DataFrame())
    files = write_results(result, tmp_path / "empty")
    assert set(files) == set(FILES)
    assert tuple(pd.read_csv(files["summary.csv"]).columns) == SUMMARY_COLUMNS
    assert tuple(pd.read_parquet(files["slots.parquet"]).columns) == SLOT_COLUMNS
    _parse(files["report.html"])


def test_a_table_missing_a_contract_column_is_refused(tmp_path: Path) -> None:
    result = _result()
    result.summary = result.summary.drop(columns=["cost_jpy"])
    with pytest.raises(ValueError, match="cost_jpy"):
        write_results(result, tmp_path)


def test_summary_table_renders_for_the_terminal() -> None:
    result = _result(name="week [bold]one[/bold]")
    console = Console(record=True, width=250, color_system=None)
    console.print(summary_table(result))
    text = console.export_text()
    assert "week [bold]one[/bold]" in text  # literal, not rich markup
    for policy in POLICIES:
        assert policy in text
    milp = next(line for line in text.splitlines() if " milp " in line)
    assert "—" in milp and "nan" not in milp.lower()
    kg = result.summary.loc[result.summary["policy"] == "milp", "kg_co2_location"].item()
    assert kg > 1000 and f"{kg:,.1f}" in milp
    assert "81.2%" in milp
    assert "0.0%" in next(line for line in text.splitlines() if " asap " in line)


def test_reports_can_be_written_from_several_threads(tmp_path: Path) -> None:
    """No pyplot global state: concurrent writers each get complete, valid files."""
    results = [_result(name=f"run {i}") for i in range(3)]
    with ThreadPoolExecutor(max_workers=3) as pool:
        outs = list(pool.map(lambda ir: write_results(ir[1], tmp_path / f"run{ir[0]}"),
                             enumerate(results)))
    for i, files in enumerate(outs):
        assert f"run {i}" in _parse(files["report.html"]).title
        for name in PLOTS:
            assert files[name].read_bytes()[:8] == PNG_MAGIC

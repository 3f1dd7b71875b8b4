"""The Grafana dashboard (helm/wattbit/dashboards/wattbit.json, shipped by the chart as a
ConfigMap): its model is well formed, and every query uses only metric names and labels the
exporter really publishes — so renaming a metric or a label in scheduler/dr/exporter.py fails
here — and every exported family is on a panel.
With a `prometheus` binary on PATH, every query also runs against a real Prometheus
scraping the exporter and must return series."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import generate_latest, start_http_server
from prometheus_client.parser import text_string_to_metric_families

from scheduler.dr.exporter import FAMILIES, DrMetrics
from tests.prometheus_server import PromServer, prometheus_scraping
from tests.test_dr_exporter import make_snapshot

REPO = Path(__file__).resolve().parents[1]
DASHBOARD = REPO / "helm" / "wattbit" / "dashboards" / "wattbit.json"

GRID_COLUMNS = 24
GRAFANA_VARIABLES = {"__interval", "__interval_ms", "__rate_interval", "__range",
                     "__range_s", "__range_ms", "__dashboard", "__org", "__user"}
ALWAYS_LABELS = {"job", "instance", "__name__"}  # added by the scrape / always present

# PromQL keywords, aggregation operators and functions (an unknown name followed by "("
# is an error, so a typo in a function name fails too).
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool",
            "offset", "and", "or", "unless", "atan2", "inf", "nan", "start", "end"}
AGGREGATIONS = {"sum", "min", "max", "avg", "group", "stddev", "stdvar", "count",
                "count_values", "bottomk", "topk", "quantile"}
FUNCTIONS = {
    "abs", "absent", "absent_over_time", "avg_over_time", "ceil", "changes", "clamp",
    "clamp_max", "clamp_min", "count_over_time", "day_of_month", "day_of_week",
    "day_of_year", "days_in_month", "delta", "deriv", "exp", "floor", "histogram_quantile",
    "holt_winters", "hour", "idelta", "increase", "irate", "label_join", "label_replace",
    "last_over_time", "ln", "log10", "log2", "max_over_time", "min_over_time", "minute",
    "month", "predict_linear", "present_over_time", "quantile_over_time", "rate", "resets",
    "round", "scalar", "sgn", "sort", "sort_desc", "sqrt", "stddev_over_time",
    "stdvar_over_time", "sum_over_time", "time", "timestamp", "vector", "year"}

# unit of a panel showing a plain metric, by the metric name's unit suffix
UNIT_BY_SUFFIX = {"_watts": "watt", "_grams": "massg", "_joules": "joule", "_seconds": "s",
                  "_ratio": "percentunit"}


# --- the exporter's real output ------------------------------------------------------------


def exposition() -> dict[str, set[str]]:
    """Sample name → label names, from the text a scrape of the exporter gets after one
    update with the test snapshot (which fills every family)."""
    metrics = DrMetrics()
    metrics.update(make_snapshot())
    text = generate_latest(metrics.registry).decode("utf-8")
    out: dict[str, set[str]] = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out.setdefault(s.name, set()).update(s.labels)
    return out


EXPOSED = exposition()


def sample_names(family: str) -> set[str]:
    """The sample names the exporter publishes for a `FAMILIES` entry (a counter's name
    already ends in `_total`; an info family's samples end in `_info`; a histogram's or
    summary's in `_bucket`/`_sum`/`_count`; `_created` of a counter or histogram)."""
    stem = family.removesuffix("_total")
    suffixes = ("", "_total", "_info", "_bucket", "_sum", "_count", "_created")
    return {stem + suf for suf in suffixes} & set(EXPOSED)


# --- a minimal PromQL reader ---------------------------------------------------------------

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_LABEL_LIST = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)")
_IDENT = re.compile(r"(?<![\w:.$])[A-Za-z_:][\w:]*")
_SELECTOR = re.compile(r"(?<![\w:.$])([A-Za-z_:][\w:]*)?\s*\{([^{}]*)\}")
_MATCHER = re.compile(r"^\s*([A-Za-z_]\w*)\s*(=~|!~|!=|=)\s*\"\"\s*$")
_VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)\]\]")


def blank_strings(expr: str) -> str:
    """`expr` with every string literal emptied (kept as `""`); an unterminated quote fails."""
    out = _STRING.sub('""', expr)
    assert not re.search(r"[\"'`]", out.replace('""', "")), f"unbalanced quote in {expr!r}"
    return out


def assert_balanced(expr: str) -> None:
    """Braces, parentheses and brackets nest properly (outside string literals)."""
    pairs = {")": "(", "]": "[", "}": "{"}
    stack: list[str] = []
    for ch in blank_strings(expr):
        if ch in "([{":
            stack.append(ch)
        elif ch in pairs:
            assert stack and stack[-1] == pairs[ch], f"unbalanced {ch!r} in {expr!r}"
            stack.pop()
    assert not stack, f"unclosed {''.join(stack)!r} in {expr!r}"


def metric_names(expr: str) -> set[str]:
    """Metric names an expression selects: identifiers outside strings, label matchers,
    ranges and `by (…)`-style label lists that are neither keywords nor called."""
    text = blank_strings(expr)
    text = re.sub(r"\{[^{}]*\}", " ", text)
    text = re.sub(r"\[[^\[\]]*\]", " ", text)
    text = _LABEL_LIST.sub(" ", text)
    names = set()
    for m in _IDENT.finditer(text):
        word = m.group(0)
        if word.lower() in KEYWORDS:
            continue
        if re.match(r"\s*\(", text[m.end():]):
            assert word in AGGREGATIONS | FUNCTIONS, f"unknown function {word!r} in {expr!r}"
            continue
        names.add(word)
    return names


def selectors(expr: str) -> list[tuple[str | None, list[str]]]:
    """(metric name or None, label names of its matchers) per `{…}` selector."""
    out = []
    for m in _SELECTOR.finditer(blank_strings(expr)):
        labels = []
        for part in filter(str.strip, m.group(2).split(",")):
            mm = _MATCHER.match(part)
            assert mm, f"bad label matcher {part!r} in {expr!r}"
            labels.append(mm.group(1))
        out.append((m.group(1), labels))
    return out


def variables(text: str) -> set[str]:
    return {next(g for g in m.groups() if g) for m in _VARIABLE.finditer(text)}


def check_expr(expr: str) -> set[str]:
    """Checks one query; returns the metric names it uses."""
    assert expr.strip(), "empty expr"
    assert_balanced(expr)
    names = metric_names(expr)
    assert names, f"{expr!r} selects no metric"
    unknown = names - set(EXPOSED)
    assert not unknown, f"{expr!r} uses {sorted(unknown)}, not in the exporter's output"
    for metric, labels in selectors(expr):
        assert metric is not None, f"selector without a metric name in {expr!r}"
        bad = set(labels) - EXPOSED[metric] - ALWAYS_LABELS
        assert not bad, f"{expr!r}: {metric} has no label {sorted(bad)}"
    return names


# --- the dashboard -------------------------------------------------------------------------


DASH = json.loads(DASHBOARD.read_text(encoding="utf-8"))


def all_panels(panels: list[dict] | None = None) -> Iterator[dict]:
    """Every panel, including those nested in (collapsed) rows."""
    for p in DASH["panels"] if panels is None else panels:
        yield p
        yield from all_panels(p.get("panels", []))


PANELS = list(all_panels())
DATA_PANELS = [p for p in PANELS if p["type"] != "row"]
TARGETS = [(p, t) for p in DATA_PANELS for t in p.get("targets", [])]
VARIABLES = {v["name"]: v for v in DASH["templating"]["list"]}


def target_id(item: tuple[dict, dict]) -> str:
    p, t = item
    return f"panel{p['id']}-{t['refId']}"


def variable_query(v: dict) -> str:
    q = v["query"]
    return q["query"] if isinstance(q, dict) else q


def panel_by_title(title: str) -> dict:
    found = [p for p in DATA_PANELS if p["title"] == title]
    assert len(found) == 1, (title, [p["title"] for p in DATA_PANELS])
    return found[0]


def test_the_dashboard_model() -> None:
    assert DASH["uid"] == "wattbit-dr"
    assert DASH["title"] == "wattbit — demand response and carbon"
    assert isinstance(DASH["schemaVersion"], int) and DASH["schemaVersion"] >= 36
    assert DASH.get("id") is None  # importable into any Grafana


def test_the_datasource_variable_and_every_panel_and_target_use_it() -> None:
    ds = VARIABLES["datasource"]
    assert ds["type"] == "datasource" and ds["query"] == "prometheus"
    want = {"type": "prometheus", "uid": "${datasource}"}
    for p in DATA_PANELS:
        assert p["datasource"] == want, p["title"]
        assert p["targets"], f"{p['title']} has no query"
        for t in p["targets"]:
            assert t["datasource"] == want, (p["title"], t["refId"])


@pytest.mark.parametrize(("name", "label"), [("site", "site"), ("region", "region")])
def test_site_and_region_variables_come_from_exported_labels(name: str, label: str) -> None:
    v = VARIABLES[name]
    assert v["type"] == "query"
    assert v["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
    m = re.fullmatch(r"label_values\(\s*(.+?)\s*,\s*(\w+)\s*\)", variable_query(v))
    assert m, variable_query(v)
    check_expr(m.group(1))
    assert m.group(2) == label
    assert all(label in EXPOSED[metric] for metric in metric_names(m.group(1)))
    assert v["multi"] and v["includeAll"]


def test_every_panel_has_a_unique_id_and_a_grid_position_without_overlaps() -> None:
    ids = [p["id"] for p in PANELS]
    assert all(isinstance(i, int) for i in ids)
    assert len(ids) == len(set(ids)), ids
    boxes = []
    for p in PANELS:
        g = p["gridPos"]
        x, y, w, h = (g[k] for k in "xywh")
        assert all(isinstance(n, int) for n in (x, y, w, h)), p["title"]
        assert x >= 0 and y >= 0 and w > 0 and h > 0 and x + w <= GRID_COLUMNS, p["title"]
        boxes.append((p["title"], x, y, w, h))
    for i, (a, ax, ay, aw, ah) in enumerate(boxes):
        for b, bx, by, bw, bh in boxes[i + 1:]:
            overlap = ax < bx + bw and bx < ax + aw and ay < by + bh and by < ay + ah
            assert not overlap, f"panels {a!r} and {b!r} overlap"


def test_every_panel_has_a_title_and_every_target_a_unique_ref_id() -> None:
    for p in DATA_PANELS:
        assert p["title"].strip() and p.get("description", "").strip(), p["id"]
        refs = [t["refId"] for t in p["targets"]]
        assert len(refs) == len(set(refs)), p["title"]


@pytest.mark.parametrize("item", TARGETS, ids=target_id)
def test_every_query_parses_and_uses_only_exported_names(item: tuple[dict, dict]) -> None:
    panel, t = item
    names = check_expr(t["expr"])
    known = set(VARIABLES) | GRAFANA_VARIABLES
    assert variables(t["expr"]) <= known, t["expr"]
    # a legend may only name labels the series carry: those of the metrics, and
    # after `by (…)` only those kept
    labels = set().union(*(EXPOSED[n] for n in names)) | ALWAYS_LABELS
    by = re.search(r"\bby\s*\(([^()]*)\)", t["expr"])
    if by:
        labels = {s.strip() for s in by.group(1).split(",")}
    used = set(re.findall(r"\{\{\s*(\w+)\s*\}\}", t.get("legendFormat", "")))
    assert used <= labels, (panel["title"], used - labels)


def test_the_checker_catches_renames_typos_and_unbalanced_queries() -> None:
    good = 'sum by (provider) (rate(wattbit_provider_failures_total{provider=~"a|b"}[5m]))'
    assert check_expr(good) == {"wattbit_provider_failures_total"}
    assert check_expr("time() - wattbit_snapshot_timestamp_seconds") == {
        "wattbit_snapshot_timestamp_seconds"}
    bad = [
        "wattbit_dr_capacity_kilowatts",  # not exported
        "wattbit_provider_failures",  # a counter's samples end in _total
        "wattbit_plan",  # an info family's sample ends in _info
        'wattbit_dr_capacity_watts{site="x"}',  # no such label
        'sum(rate(wattbit_provider_failures_total[5m])',  # unclosed (
        'wattbit_forecast_stale{region="x}',  # unterminated string
        "wattbit_forecast_stale{region=~\"x\"]",  # mismatched bracket
        "rat(wattbit_provider_failures_total[5m])",  # unknown function
        "1 + 2",  # selects nothing
    ]
    for expr in bad:
        with pytest.raises(AssertionError):
            check_expr(expr)


def test_every_exported_family_is_on_a_panel() -> None:
    used = set().union(*(metric_names(t["expr"]) for _, t in TARGETS))
    for family in FAMILIES:
        names = sample_names(family)
        assert names, f"{family}: the test snapshot publishes no sample"
        assert names & used, f"no panel shows {family} ({sorted(names)})"


def test_units() -> None:
    for p in DATA_PANELS:
        unit = p["fieldConfig"]["defaults"].get("unit")
        assert unit, f"{p['title']} sets no unit"
        exprs = [t["expr"] for t in p["targets"]]
        if any(re.search(r"\brate\s*\(|/|_info\b", e) for e in exprs):
            continue  # derived figures: checked below
        suffixes = {suf for e in exprs for n in metric_names(e)
                    for suf in UNIT_BY_SUFFIX if n.endswith(suf)}
        if len(suffixes) == 1:
            assert unit == UNIT_BY_SUFFIX[suffixes.pop()], (p["title"], unit)
    assert panel_by_title("Grid carbon intensity per region")["fieldConfig"]["defaults"][
        "unit"] == "suffix: gCO₂/kWh"  # g/kWh has no base unit
    assert panel_by_title("Saving share")["fieldConfig"]["defaults"]["unit"] == "percentunit"


def test_the_panels_the_issue_asks_for() -> None:
    cap = panel_by_title("ΔkW down and up per site and window")
    assert cap["type"] == "timeseries"
    assert [(t["expr"], t["legendFormat"]) for t in cap["targets"]] == [
        ('wattbit_dr_capacity_watts{scope="site", id=~"$site"}',
         "{{id}} {{direction}} {{window_minutes}} min")]

    power = panel_by_title("Planned facility power by site")
    assert power["fieldConfig"]["defaults"]["custom"]["stacking"]["mode"] == "normal"
    assert "$site" in power["targets"][0]["expr"]

    for title in ("Grid carbon intensity per region", "Curtailment per region",
                  "Forecast stale", "Forecast age"):
        p = panel_by_title(title)
        assert p["type"] == "timeseries" and "$region" in p["targets"][0]["expr"], title

    emissions = panel_by_title("Plan vs baseline emissions over the horizon")
    exprs = [t["expr"] for t in emissions["targets"]]
    saving = panel_by_title("Saving (baseline − planned)")["targets"][0]["expr"]
    assert saving in exprs
    assert re.fullmatch(r'\S+\{plan="baseline"\} - ignoring\(plan\) \S+\{plan="planned"\}',
                        saving)

    info = panel_by_title("Plan method and status")
    assert info["type"] == "table"
    assert info["targets"][0]["expr"] == "wattbit_plan_info"
    assert info["targets"][0]["format"] == "table" and info["targets"][0]["instant"]

    failures = panel_by_title("Provider failures rate")["targets"][0]["expr"]
    assert "rate(wattbit_provider_failures_total[5m])" in failures


# --- against a real Prometheus scraping the exporter ---------------------------------------


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PromServer]:
    metrics = DrMetrics()
    metrics.update(make_snapshot())
    server, thread = start_http_server(0, addr="127.0.0.1", registry=metrics.registry)
    target = f"127.0.0.1:{server.server_port}"
    try:
        with prometheus_scraping(target, tmp_path_factory.mktemp("prometheus")) as prom:
            yield prom
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def grafana_expand(expr: str) -> str:
    """`expr` as Grafana sends it with "All" selected (a regex of every value)."""
    expr = re.sub(r"\$\{?(site|region)\}?", ".+", expr)
    return re.sub(r"\$\{?__rate_interval\}?", "1m", expr)


def test_every_query_returns_series_from_a_real_prometheus(prometheus: PromServer) -> None:
    pending = {target_id(item): grafana_expand(item[1]["expr"]) for item in TARGETS}
    for name in ("site", "region"):
        m = re.fullmatch(r"label_values\(\s*(.+?)\s*,\s*(\w+)\s*\)",
                         variable_query(VARIABLES[name]))
        assert m
        pending[f"${name}"] = f"count by ({m.group(2)}) ({m.group(1)})"
    deadline = time.monotonic() + 30.0  # rate() needs two scrapes (1 s apart)
    while True:
        pending = {k: e for k, e in pending.items() if not prometheus.query(e)}
        if not pending or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert not pending, f"queries with no series: {pending}\n{prometheus.log_text()}"

"""Forecast skill on held-out real data: the models against every trivial forecast.

For each area with curtailment in the shared TSO files (Kyushu, Chugoku, Shikoku, Tohoku,
Hokkaido, Tokyo) and target (curtailment MW, carbon gCO2/kWh), forecast every day of the
test year (the last calendar year of the area's data, or `--test-year`) with the issue rule
(day-ahead: 10:00 JST the day before; or intraday). Rolling origin: every method is refitted
per block (`--refit`, a month by default) on the history observed before the block's first
issue time, as an operator retraining monthly would be (`forecasts.models.backtest`).

Methods: the quantile model (relative form for carbon, hurdle for curtailment); the trivial
seasonal-naive (same slot, latest observed day / one week back), persistence (last value
at issue), climatology (per JST month × time of day: mean as the point, empirical quantiles,
event frequency) and, for curtailment, zero. Point baselines get quantiles from their own
past residuals per JST hour (`residual_quantiles`) so pinball losses compare like with like.
Ratios are against the best trivial forecast of the row's area and target (< 1: the model
beats every one of them).

Curtailment events (a slot with > 1 MW curtailed): hit rate (share of curtailed hours
forecast), false-alarm ratio (share of forecast hours that did not curtail), false-alarm
rate (share of uncurtailed hours forecast), Brier score of the event probability and its
skill against climatology (BSS = 1 − Brier / Brier of climatology), energy-weighted MAE
(Σ a·|a − p| / Σ a, MW). The model forecasts an event when its probability reaches a
threshold chosen on out-of-sample forecasts of the years *before* the test year (F1-best;
0.5 with fewer than 20 validation events); point baselines when their point exceeds 1 MW,
climatology when its frequency reaches 0.5. Nothing is tuned on the test year. The notes
give, per area, the evidence the event model had (curtailed slots and days before the test
period and in its validation split) and the share of test slots with a nonzero p50 that
curtailed: below half, those medians tend to cost MAE against the zero forecast.
`--oracle-solar` adds a diagnostic row (not a forecast): the model given the delivery
day's *actual* solar availability, i.e. what a perfect day-ahead PV forecast (such as
the TSOs' published area forecasts) would add.

    python benchmarks/forecast_skill.py [--data ../shared/data] [--rule day-ahead|intraday]
        [--areas kyushu chugoku …] [--test-year 2023] [--refit MS|QS] [--markdown] [--oracle-solar]
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table

from forecasts.models import (
    BASELINES,
    DAY_AHEAD,
    INTRADAY,
    IssueRule,
    add_targets,
    baseline_forecast,
    fit_quantile_model,
    predict,
    residual_quantiles,
)
from forecasts.models.backtest import choose_threshold, rolling_forecast
from forecasts.models.baselines import climatology_forecast, fit_climatology
from forecasts.models.features import CURTAILED_MW, JST, TARGETS
from forecasts.models.metrics import (
    brier_score,
    energy_weighted_mae,
    event_scores,
    mae,
    quantile_scores,
)
from forecasts.models.quantile_model import QuantileModel, predict_event_probability
from forecasts.sources.jp_tso.parse import parse_area_files
from forecasts.synthetic.clearsky import clearsky_irradiance

REPO = Path(__file__).resolve().parents[1]
AREA_FILES = {
    "kyushu": "grid/jp_area_supply_demand/kyushu/area_jyukyu_jisseki_*.csv",
    "chugoku": "grid/jp_area_supply_demand/chugoku/eria_jyukyu.csv",
    "shikoku": "grid/jp_area_supply_demand/shikoku/jukyu*.csv",
    "tohoku": "grid/jp_area_supply_demand/tohoku/juyo_*_tohoku_*.txt",
    "hokkaido": "grid/jp_area_supply_demand/hokkaido/sup_dem_results_*.csv",
    "tokyo": "grid/jp_area_supply_demand/tokyo/eria_jukyu_*_03.csv",
}
RULES = {"day-ahead": DAY_AHEAD, "intraday": INTRADAY}
QUANTILE_COLUMNS = ["p10", "p50", "p90"]
WARM_UP = pd.Timedelta(days=90)
"""History before the first validation forecast."""


def load_area(data: Path, area: str) -> pd.DataFrame:
    """The area's tidy history with targets added (carbon from the mix, default factors)."""
    files = sorted(data.glob(AREA_FILES[area]))
    if not files:
        raise SystemExit(f"no {area} files under {data} ({AREA_FILES[area]})")
    return add_targets(parse_area_files(files, area=area))


def _actual(tidy: pd.DataFrame, target: str) -> pd.Series:
    return tidy.set_index(pd.DatetimeIndex(tidy["time_utc"]).as_unit("ns"))[target]


def model_backtest(tidy: pd.DataFrame, target: str, rule: IssueRule, start: pd.Timestamp,
                   end: pd.Timestamp, every: str, exogenous: pd.DataFrame | None = None
                   ) -> tuple[pd.DataFrame, list[str]]:
    """Out-of-sample model forecasts (p10/p50/p90, and `p_event` for curtailment)."""
    def fit(history: pd.DataFrame) -> QuantileModel:
        return fit_quantile_model(history, target, rule, exogenous=exogenous)

    def forecast(model: QuantileModel, history: pd.DataFrame) -> pd.DataFrame:
        out = predict(model, history, exogenous=exogenous)
        if model.hurdle is not None:
            out["p_event"] = predict_event_probability(model, history, exogenous=exogenous)
        return out

    bt = rolling_forecast(tidy, start, end, fit, forecast, rule, every)
    return bt.forecasts, bt.skipped


def solar_oracle(tidy: pd.DataFrame) -> pd.DataFrame:
    """The delivery day's actual available solar per unit of clear-sky irradiance (a
    perfect day-ahead PV forecast; diagnostic only, it is not known at issue time)."""
    times = pd.DatetimeIndex(tidy["time_utc"]).as_unit("ns")
    minutes = int(tidy["slot_minutes"].iloc[0])
    ghi = clearsky_irradiance(str(tidy["area"].iloc[0]), times, minutes)["ghi_w_per_m2"]
    avail = (tidy["solar_mw"].fillna(0.0) + tidy["solar_curtailed_mw"].fillna(0.0)).to_numpy()
    day = times.tz_convert(JST).normalize()
    frame = pd.DataFrame({"avail": avail, "ghi": ghi.to_numpy()}, index=times)
    sums = frame.groupby(day.to_numpy()).transform("sum")
    return pd.DataFrame({"day_solar_per_clearsky": sums["avail"] / sums["ghi"]}, index=times)


def baseline_backtests(tidy: pd.DataFrame, target: str, rule: IssueRule,
                       start: pd.Timestamp, end: pd.Timestamp,
                       every: str) -> dict[str, pd.DataFrame]:
    """Per trivial method: point (`point`), quantiles and event probability per slot."""
    actual = _actual(tidy, target)
    out = {}
    for method in BASELINES:
        point = baseline_forecast(tidy, target, method, rule)

        def quantiles(train: pd.DataFrame, _: pd.DataFrame, point: pd.Series = point
                      ) -> pd.DataFrame:
            idx = pd.DatetimeIndex(train["time_utc"]).as_unit("ns")
            q = residual_quantiles(point.reindex(idx), actual.reindex(idx), point)
            return q.assign(point=point, p_event=(point > CURTAILED_MW).astype(float))

        out[method] = rolling_forecast(tidy, start, end, lambda h: h, quantiles, rule,
                                       every).forecasts

    def clim(fitted: object, history: pd.DataFrame) -> pd.DataFrame:
        idx = pd.DatetimeIndex(history["time_utc"]).as_unit("ns")
        return climatology_forecast(fitted, idx).rename(columns={"mean": "point"})

    out["climatology"] = rolling_forecast(tidy, start, end,
                                          lambda h: fit_climatology(h, target), clim,
                                          rule, every).forecasts
    if target == "curtailment_mw":
        idx = out["climatology"].index
        out["zero"] = pd.DataFrame(0.0, index=idx, columns=[*QUANTILE_COLUMNS, "point",
                                                             "p_event"])
    return out


def score(actual: pd.Series, pred: pd.DataFrame, target: str, threshold: float,
          clim_p: pd.Series | None) -> dict[str, float]:
    """Value scores and, for curtailment, event scores of one method."""
    a = actual.reindex(pred.index)
    point = pred["point"] if "point" in pred else pred["p50"]
    row = {"mae": mae(a, point), **quantile_scores(a, pred[QUANTILE_COLUMNS])}
    if target == "curtailment_mw":
        ok = a.notna()
        observed = (a[ok] > CURTAILED_MW).to_numpy()
        p = pred.loc[ok, "p_event"].to_numpy()
        row.update(energy_weighted_mae=energy_weighted_mae(a[ok], point[ok]),
                   **event_scores(observed, p >= threshold), brier=brier_score(observed, p))
        if clim_p is not None:
            row["bss"] = 1.0 - row["brier"] / brier_score(
                observed, clim_p.reindex(a[ok].index).to_numpy())
    return row


def evaluate(tidy: pd.DataFrame, target: str, rule: IssueRule, test_year: int | None,
             every: str, oracle: bool = False) -> tuple[list[dict], list[str]]:
    """Rows of scores (one per method) for one area and target, and notes."""
    jst = pd.DatetimeIndex(tidy["time_jst"]).tz_convert(JST)
    year = test_year or int(jst[-1].year)
    start, end = pd.Timestamp(year, 1, 1, tz=JST), pd.Timestamp(year + 1, 1, 1, tz=JST)
    end = min(end, (jst[-1] + pd.Timedelta(days=1)).normalize())
    notes: list[str] = []
    t0 = time.perf_counter()
    model, skipped = model_backtest(tidy, target, rule, start, end, every)
    fit_s = time.perf_counter() - t0
    others = baseline_backtests(tidy, target, rule, start, end, every)
    idx = others["climatology"].index
    threshold = 0.5
    if target == "curtailment_mw":
        valid_start = (jst[0] + WARM_UP).normalize()
        threshold = validated_threshold(tidy, rule, valid_start, start, every)
        notes.append(f"event threshold {threshold:.3f} (validated {valid_start:%Y-%m} – "
                     f"{start - pd.Timedelta(days=1):%Y-%m})")
        fallback = others["zero"]
    else:
        fallback = others["seasonal_naive_day"][QUANTILE_COLUMNS]
    if skipped:
        notes.append(f"model not fitted for blocks from {'; '.join(skipped)}: "
                     f"{'zero' if target == 'curtailment_mw' else 'seasonal-naive'} there")
    keep = [c for c in fallback.columns if c != "point"]
    model = model.reindex(index=idx, columns=keep).combine_first(fallback.reindex(idx)[keep])
    actual = _actual(tidy, target)
    if target == "curtailment_mw":
        notes += event_evidence(actual, model["p50"], valid_start, start)
    clim_p = others["climatology"]["p_event"] if target == "curtailment_mw" else None
    rows = [{"method": "quantile model", **score(actual, model, target, threshold, clim_p),
             "fit_s": fit_s}]
    if oracle and target == "curtailment_mw":
        exo = solar_oracle(tidy)
        upper, _ = model_backtest(tidy, target, rule, start, end, every, exo)
        upper = upper.reindex(index=idx, columns=keep).combine_first(fallback.reindex(idx)[keep])
        th = validated_threshold(tidy, rule, valid_start, start, every, exo)
        rows.append({"method": f"+ next-day solar (oracle, th {th:.2f})",
                     **score(actual, upper, target, th, clim_p)})
    rows += [{"method": name, **score(actual, pred, target, 0.5, clim_p)}
             for name, pred in others.items()]
    trivial = [r for r in rows if r["method"] in others]
    best_mae = min(r["mae"] for r in trivial)
    best_pin = min(r["pinball_mean"] for r in trivial)
    for r in rows:
        r.update(mae_ratio=r["mae"] / best_mae, pinball_ratio=r["pinball_mean"] / best_pin,
                 test=f"{start:%Y-%m-%d} – {end - pd.Timedelta(days=1):%Y-%m-%d}",
                 n_test=int(actual.reindex(idx).notna().sum()))
    return rows, notes


def event_evidence(actual: pd.Series, p50: pd.Series, valid_start: pd.Timestamp,
                   start: pd.Timestamp) -> list[str]:
    """What the event model could learn from, and how its nonzero medians fared: curtailed
    slots (and JST days) before the test period and in its validation split, and the
    share of test slots with p50 > 0 that curtailed (a nonzero median tends to lower the MAE
    against the zero forecast only where most such slots curtail)."""
    idx = pd.DatetimeIndex(actual.index)
    event = actual > CURTAILED_MW
    days = idx.tz_convert(JST).normalize()

    def count(mask: np.ndarray) -> str:
        return f"{int(event[mask].sum())} slots on {days[mask & event.to_numpy()].nunique()} days"

    before = np.asarray(idx < start)
    valid = before & np.asarray(idx >= valid_start)
    nonzero = p50[p50 > 0].index
    share = event.reindex(nonzero).mean() if len(nonzero) else float("nan")
    return [f"curtailed before the test period: {count(before)} (validation split: "
            f"{count(valid)}); test p50 > 0 in {len(nonzero)} slots, "
            f"{_fmt(share, '.0%')} of them curtailed"]


def validated_threshold(tidy: pd.DataFrame, rule: IssueRule, start: pd.Timestamp,
                        end: pd.Timestamp, every: str,
                        exogenous: pd.DataFrame | None = None) -> float:
    """Event threshold chosen on out-of-sample forecasts of `start` … `end` (before the
    test period)."""
    valid, _ = model_backtest(tidy, "curtailment_mw", rule, start, end, every, exogenous)
    if valid.empty:
        return 0.5
    observed = _actual(tidy, "curtailment_mw").reindex(valid.index) > CURTAILED_MW
    return choose_threshold(valid["p_event"], observed)


def _fmt(value: float, spec: str) -> str:
    return "–" if value is None or not np.isfinite(value) else format(value, spec)


VALUE_COLUMNS: list[tuple[str, str, Callable[[dict], str]]] = [
    ("MAE", "r", lambda r: _fmt(r["mae"], ".1f")),
    ("pinball p10", "r", lambda r: _fmt(r["pinball_p10"], ".1f")),
    ("p50", "r", lambda r: _fmt(r["pinball_p50"], ".1f")),
    ("p90", "r", lambda r: _fmt(r["pinball_p90"], ".1f")),
    ("mean", "r", lambda r: _fmt(r["pinball_mean"], ".1f")),
    ("MAE/best trivial", "r", lambda r: _fmt(r["mae_ratio"], ".2f")),
    ("pinball/best trivial", "r", lambda r: _fmt(r["pinball_ratio"], ".2f")),
]
EVENT_COLUMNS: list[tuple[str, str, Callable[[dict], str]]] = [
    ("energy-w. MAE", "r", lambda r: _fmt(r["energy_weighted_mae"], ".0f")),
    ("hit rate", "r", lambda r: _fmt(r["hit_rate"], ".0%")),
    ("false-alarm ratio", "r", lambda r: _fmt(r["false_alarm_ratio"], ".0%")),
    ("false-alarm rate", "r", lambda r: _fmt(r["false_alarm_rate"], ".1%")),
    ("Brier", "r", lambda r: _fmt(r["brier"], ".4f")),
    ("BSS vs clim.", "r", lambda r: _fmt(r.get("bss", float("nan")), ".2f")),
]


def render(title: str, rows: list[dict], columns: list, markdown: bool,
           console: Console) -> None:
    """One table (rich, or GitHub markdown with `markdown`)."""
    head = ["area", "target", "method", *(c[0] for c in columns)]
    body = [[r["area"], r["target"], r["method"], *(c[2](r) for c in columns)] for r in rows]
    if markdown:
        console.print(f"\n**{title}**\n", markup=False)
        console.print("| " + " | ".join(head) + " |", markup=False)
        console.print("|" + "|".join("---" if i < 3 else "--:" for i in range(len(head)))
                      + "|", markup=False)
        for line in body:
            console.print("| " + " | ".join(line) + " |", markup=False)
        return
    table = Table(title=title)
    for i, name in enumerate(head):
        table.add_column(name, justify="left" if i < 3 else "right")
    last = None
    for r, line in zip(rows, body, strict=True):
        if last is not None and (r["area"], r["target"]) != last:
            table.add_section()
        last = (r["area"], r["target"])
        table.add_row(*line)
    console.print(table)


def main(argv: list[str] | None = None) -> None:
    default = Path(os.environ.get("WATTBIT_SHARED_DATA", REPO.parent / "shared" / "data"))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=default, help="shared data root")
    ap.add_argument("--rule", choices=sorted(RULES), default="day-ahead")
    ap.add_argument("--areas", nargs="+", choices=list(AREA_FILES), default=list(AREA_FILES))
    ap.add_argument("--test-year", type=int, default=None,
                    help="held-out calendar year (JST); default: each area's last year")
    ap.add_argument("--refit", default="MS",
                    help="refit cadence, a pandas frequency (MS monthly, QS quarterly)")
    ap.add_argument("--markdown", action="store_true", help="print markdown tables")
    ap.add_argument("--oracle-solar", action="store_true",
                    help="add a diagnostic curtailment row: the model given the delivery "
                         "day's actual solar (an upper bound for a day-ahead PV forecast)")
    args = ap.parse_args(argv)
    console, progress = Console(width=200), Console(stderr=True)
    rows, notes = [], []
    t0 = time.perf_counter()
    for area in args.areas:
        tidy = load_area(args.data, area)
        for target in TARGETS:
            scored, why = evaluate(tidy, target, RULES[args.rule], args.test_year, args.refit,
                                   args.oracle_solar)
            rows += [{"area": area, "target": target, **r} for r in scored]
            progress.log(f"{area} {target}: {time.perf_counter() - t0:.0f} s", markup=False)
            test = scored[0]["test"]
            notes += [f"{area} {target} ({test}, {scored[0]['n_test']} slots): {n}" for n in why]
    title = (f"{args.rule} forecast skill on each area's held-out year, refit {args.refit} "
             "on the history before each block")
    render(title, rows, VALUE_COLUMNS, args.markdown, console)
    events = [r for r in rows if r["target"] == "curtailment_mw"]
    render(f"{args.rule} curtailment events (> {CURTAILED_MW:g} MW)", events, EVENT_COLUMNS,
           args.markdown, console)
    for n in notes:
        console.print(f"- {n}", markup=False)
    console.print("Units: curtailment_mw in MW, carbon_gco2_per_kwh in gCO2/kWh (slot "
                  f"averages). Total {time.perf_counter() - t0:.0f} s.", markup=False)


if __name__ == "__main__":
    main()

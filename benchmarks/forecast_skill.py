"""Forecast skill on held-out real data: quantile model vs seasonal-naive vs persistence.

For each area (Kyushu, Chugoku legacy TSO files) and target (curtailment MW, carbon
gCO2/kWh): train on slots before the test year (JST), forecast every day of the test year
with the issue rule (rolling day-ahead: issued 10:00 JST the day before; or intraday), and
print MAE and pinball loss (p10/p50/p90) with ratios against seasonal-naive (same slot, latest
observed day).

Baselines are point forecasts; their MAE uses the point, their pinball losses use quantiles
calibrated on their own training-period residuals per JST hour (`residual_quantiles`).
For curtailment the trivial forecast "zero" (no curtailment, all quantiles 0) is shown too.
Nothing is tuned on the test year.

    python benchmarks/forecast_skill.py [--data ../shared/data] [--rule day-ahead|intraday]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import pandas as pd
from rich.console import Console
from rich.table import Table

from forecasts.models import (
    BASELINES,
    DAY_AHEAD,
    INTRADAY,
    add_targets,
    baseline_forecast,
    fit_quantile_model,
    mae,
    predict,
    quantile_scores,
    residual_quantiles,
)
from forecasts.models.features import TARGETS
from forecasts.sources.jp_tso.parse import parse_area_files

REPO = Path(__file__).resolve().parents[1]
AREA_FILES = {
    "kyushu": "grid/jp_area_supply_demand/kyushu/area_jyukyu_jisseki_*.csv",
    "chugoku": "grid/jp_area_supply_demand/chugoku/eria_jyukyu.csv",
}
RULES = {"day-ahead": DAY_AHEAD, "intraday": INTRADAY}


def load_area(data: Path, area: str) -> pd.DataFrame:
    """The area's tidy history with targets added (carbon from the mix, default factors)."""
    files = sorted(data.glob(AREA_FILES[area]))
    if not files:
        raise SystemExit(f"no {area} files under {data} ({AREA_FILES[area]})")
    return add_targets(parse_area_files(files, area=area))


def evaluate(tidy: pd.DataFrame, target: str, rule_name: str, test_year: int) -> list[dict]:
    """Rows of scores (one per method) for one area and target."""
    rule = RULES[rule_name]
    jst = pd.DatetimeIndex(tidy["time_jst"])
    train = tidy[jst.year < test_year]
    t0 = time.perf_counter()
    model = fit_quantile_model(train, target, rule)
    fit_s = time.perf_counter() - t0
    full = predict(model, tidy)
    test_idx = full.index[full.index.tz_convert("Asia/Tokyo").year == test_year]
    actual = tidy.set_index(pd.DatetimeIndex(tidy["time_utc"]).as_unit("ns"))[target]
    actual = actual.reindex(test_idx)
    rows = [{"method": "quantile model", "mae": mae(actual, full.loc[test_idx, "p50"]),
             **quantile_scores(actual, full.loc[test_idx]), "fit_s": fit_s}]
    train_idx = full.index[full.index.tz_convert("Asia/Tokyo").year < test_year]
    train_actual = tidy.set_index(pd.DatetimeIndex(tidy["time_utc"]).as_unit("ns"))[target]
    for method in BASELINES:
        point = baseline_forecast(tidy, target, method, rule)
        quants = residual_quantiles(point.reindex(train_idx), train_actual.reindex(train_idx),
                                    point.reindex(test_idx))
        rows.append({"method": method, "mae": mae(actual, point.reindex(test_idx)),
                     **quantile_scores(actual, quants), "fit_s": float("nan")})
    if target == "curtailment_mw":  # "no curtailment": the trivial point forecast
        zero = pd.Series(0.0, index=test_idx)
        zq = pd.DataFrame({"p10": zero, "p50": zero, "p90": zero})
        rows.append({"method": "zero", "mae": mae(actual, zero), **quantile_scores(actual, zq),
                     "fit_s": float("nan")})
    ref = next(r for r in rows if r["method"] == "seasonal_naive_day")
    for r in rows:
        r["mae_ratio"] = r["mae"] / ref["mae"]
        r["pinball_ratio"] = r["pinball_mean"] / ref["pinball_mean"]
        r["n_test"] = int(actual.notna().sum())
    return rows


def main(argv: list[str] | None = None) -> None:
    default = Path(os.environ.get("WATTBIT_SHARED_DATA", REPO.parent / "shared" / "data"))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=default, help="shared data root")
    ap.add_argument("--rule", choices=sorted(RULES), default="day-ahead")
    ap.add_argument("--areas", nargs="+", choices=sorted(AREA_FILES),
                    default=["kyushu", "chugoku"])
    ap.add_argument("--test-year", type=int, default=2023)
    args = ap.parse_args(argv)
    console = Console(width=140)
    table = Table(title=f"{args.rule} forecast skill, held-out {args.test_year} (JST), "
                        "ratios vs seasonal-naive (latest observed day)")
    for col in ("area", "target", "method", "MAE", "pinball p10", "p50", "p90", "mean",
                "MAE ratio", "pinball ratio"):
        table.add_column(col, justify="left" if col in ("area", "target", "method") else "right")
    for area in args.areas:
        tidy = load_area(args.data, area)
        for target in TARGETS:
            for r in evaluate(tidy, target, args.rule, args.test_year):
                table.add_row(area, target, r["method"], f"{r['mae']:.1f}",
                              f"{r['pinball_p10']:.1f}", f"{r['pinball_p50']:.1f}",
                              f"{r['pinball_p90']:.1f}", f"{r['pinball_mean']:.1f}",
                              f"{r['mae_ratio']:.2f}", f"{r['pinball_ratio']:.2f}")
            table.add_section()
    console.print(table)
    console.print("Units: curtailment_mw in MW, carbon_gco2_per_kwh in gCO2/kWh (slot averages). "
                  "Baseline pinball uses residual-calibrated quantiles.")


if __name__ == "__main__":
    main()

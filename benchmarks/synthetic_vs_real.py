"""Synthetic grid vs real TSO files: monthly curtailment and carbon intensity.

Kyushu and Chugoku: calendar 2023 (legacy hourly files); Tokyo: FY2025 (2025-04-01 …
2026-03-14, 30-minute files). The synthetic area covers the same slots (same slot length,
seed 0). Curtailment = solar + wind curtailed; "hours" = hours with any curtailment;
carbon = average intensity from the mix (`forecasts.carbon.intensity`, default direct factors)
for both.

    python benchmarks/synthetic_vs_real.py [--data ../shared/data] [--seed 0]
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import pandas as pd
from rich.console import Console
from rich.table import Table

from forecasts.models.features import add_targets
from forecasts.sources.jp_tso.parse import parse_area_files
from forecasts.synthetic.grid import synthetic_area

REPO = Path(__file__).resolve().parents[1]
CASES = {
    "kyushu": ("grid/jp_area_supply_demand/kyushu/area_jyukyu_jisseki_*.csv",
               "2023-01-01", "2024-01-01"),
    "chugoku": ("grid/jp_area_supply_demand/chugoku/eria_jyukyu.csv", "2023-01-01",
                "2024-01-01"),
    "tokyo": ("grid/jp_area_supply_demand/tokyo/eria_jukyu_*_03.csv", "2025-04-01",
              "2026-04-01"),
}


def monthly_stats(tidy: pd.DataFrame) -> pd.DataFrame:
    """Per JST month: curtailment MWh, curtailment hours, mean carbon gCO2/kWh."""
    t = add_targets(tidy)
    slot_h = float(t["slot_minutes"].iloc[0]) / 60.0
    month = pd.DatetimeIndex(t["time_jst"]).tz_localize(None).to_period("M")
    frame = pd.DataFrame({
        "curtailed_mwh": t["curtailment_mw"].to_numpy() * slot_h,
        "curtailed_h": (t["curtailment_mw"].to_numpy() > 0) * slot_h,
        "carbon": t["carbon_gco2_per_kwh"].to_numpy(),
    }, index=month)
    return frame.groupby(level=0).agg({"curtailed_mwh": "sum", "curtailed_h": "sum",
                                       "carbon": "mean"})


def compare(data: Path, area: str, seed: int) -> pd.DataFrame:
    """Monthly real and synthetic statistics side by side for one area."""
    pattern, start, end = CASES[area]
    files = sorted(data.glob(pattern))
    if not files:
        raise SystemExit(f"no {area} files under {data} ({pattern})")
    real = parse_area_files(files, area=area)
    jst = pd.DatetimeIndex(real["time_jst"])
    real = real[(jst >= pd.Timestamp(start, tz="Asia/Tokyo"))
                & (jst < pd.Timestamp(end, tz="Asia/Tokyo"))]
    first = pd.Timestamp(real["time_utc"].iloc[0]).to_pydatetime()
    minutes = int(real["slot_minutes"].iloc[0])
    days = -(-len(real) * minutes // (24 * 60))
    synth = synthetic_area(area, first, days=days, slot_minutes=minutes, seed=seed)
    synth = synth[synth["time_utc"] <= real["time_utc"].iloc[-1]]
    out = monthly_stats(real).join(monthly_stats(synth), suffixes=("_real", "_synth"))
    return out


def main(argv: list[str] | None = None) -> None:
    default = Path(os.environ.get("WATTBIT_SHARED_DATA", REPO.parent / "shared" / "data"))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=default, help="shared data root")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--areas", nargs="+", choices=sorted(CASES), default=list(CASES))
    args = ap.parse_args(argv)
    console = Console(width=140)
    for area in args.areas:
        df = compare(args.data, area, args.seed)
        table = Table(title=f"{area}: real vs synthetic (seed {args.seed}), per JST month")
        for col in ("month", "curtailed MWh real", "synth", "curtailed h real", "synth ",
                    "carbon g/kWh real", "synth  ", "Δ carbon"):
            table.add_column(col, justify="right")
        for month, r in df.iterrows():
            table.add_row(str(month), f"{r.curtailed_mwh_real:,.0f}",
                          f"{r.curtailed_mwh_synth:,.0f}", f"{r.curtailed_h_real:.1f}",
                          f"{r.curtailed_h_synth:.1f}", f"{r.carbon_real:.0f}",
                          f"{r.carbon_synth:.0f}", f"{r.carbon_synth - r.carbon_real:+.0f}")
        tot = df.sum()
        mean_real, mean_synth = df["carbon_real"].mean(), df["carbon_synth"].mean()
        table.add_section()
        table.add_row("total/mean", f"{tot.curtailed_mwh_real:,.0f}",
                      f"{tot.curtailed_mwh_synth:,.0f}", f"{tot.curtailed_h_real:.1f}",
                      f"{tot.curtailed_h_synth:.1f}", f"{mean_real:.0f}", f"{mean_synth:.0f}",
                      f"{mean_synth - mean_real:+.0f}")
        console.print(table)
        mae_ci = (df["carbon_synth"] - df["carbon_real"]).abs().mean()
        console.print(f"{area}: curtailed energy synth/real = "
                      f"{tot.curtailed_mwh_synth / max(tot.curtailed_mwh_real, 1e-9):.2f}, "
                      f"hours synth/real = "
                      f"{tot.curtailed_h_synth / max(tot.curtailed_h_real, 1e-9):.2f}, "
                      f"monthly carbon mean abs diff = {mae_ci:.0f} gCO2/kWh\n")


if __name__ == "__main__":
    main()

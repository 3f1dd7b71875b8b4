"""Summaries and plots of forecasts (carbon, curtailment, price over time).

Plots are drawn on a bare `matplotlib.figure.Figure` rendered by the Agg canvas: no
pyplot, no global figure state, no display needed.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from forecasts.forecast import Forecast
from inputs.errors import InputError

SUMMARY_COLUMNS = ("region", "slots", "slot_minutes", "start_utc", "end_utc",
                   "carbon_mean_gco2_per_kwh", "carbon_min_gco2_per_kwh",
                   "carbon_max_gco2_per_kwh", "curtailment_h", "curtailment_mwh",
                   "price_mean_jpy_per_kwh")


def forecast_summary(forecasts: Mapping[str, Forecast]) -> pd.DataFrame:
    """One row per region: slot count, carbon mean/min/max (gCO2/kWh), curtailment hours
    (slots with curtailment > 0 × slot length) and energy (MWh), mean price (JPY/kWh; NaN
    when the forecast has none)."""
    rows = []
    for region, fc in forecasts.items():
        curtailed = fc.curtailment_mw > 0
        price = fc.price_jpy_per_kwh
        rows.append({
            "region": region,
            "slots": len(fc.slot_starts),
            "slot_minutes": fc.slot_minutes,
            "start_utc": fc.slot_starts[0],
            "end_utc": fc.end,
            "carbon_mean_gco2_per_kwh": float(np.mean(fc.carbon_gco2_per_kwh)),
            "carbon_min_gco2_per_kwh": float(np.min(fc.carbon_gco2_per_kwh)),
            "carbon_max_gco2_per_kwh": float(np.max(fc.carbon_gco2_per_kwh)),
            "curtailment_h": float(curtailed.sum() * fc.slot_h),
            "curtailment_mwh": float(fc.curtailment_mw.sum() * fc.slot_h),
            "price_mean_jpy_per_kwh": float(np.mean(price)) if price is not None else np.nan,
        })
    return pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS))


def plot_forecasts(forecasts: Mapping[str, Forecast], path: str | Path) -> Path:
    """Write a PNG (or any format matplotlib knows from the suffix) with three panels over
    time (JST): carbon intensity (average solid, marginal dashed), curtailment MW, price."""
    if not forecasts:
        raise InputError("plot", "forecasts", 0, "nothing to plot")
    fig = Figure(figsize=(11, 8), layout="constrained")
    FigureCanvasAgg(fig)
    ax_c, ax_k, ax_p = fig.subplots(3, 1, sharex=True)
    for region, fc in forecasts.items():
        t = fc.slot_starts.tz_convert("Asia/Tokyo").tz_localize(None)
        (line,) = ax_c.plot(t, fc.carbon_gco2_per_kwh, lw=0.8, label=f"{region} average")
        if fc.marginal_gco2_per_kwh is not None:
            ax_c.plot(t, fc.marginal_gco2_per_kwh, lw=0.6, ls="--", color=line.get_color(),
                      label=f"{region} marginal")
        ax_k.plot(t, fc.curtailment_mw, lw=0.8, color=line.get_color(), label=region)
        if fc.price_jpy_per_kwh is not None:
            ax_p.plot(t, fc.price_jpy_per_kwh, lw=0.8, color=line.get_color(), label=region)
    ax_c.set_ylabel("carbon (gCO2/kWh)")
    ax_k.set_ylabel("curtailment (MW)")
    ax_p.set_ylabel("price (JPY/kWh)")
    ax_p.set_xlabel("time (JST)")
    ax_c.legend(loc="upper right", fontsize="small")
    if all(fc.price_jpy_per_kwh is None for fc in forecasts.values()):
        ax_p.text(0.5, 0.5, "no price in this forecast", ha="center", va="center",
                  transform=ax_p.transAxes)
    for ax in (ax_c, ax_k, ax_p):
        ax.grid(True, lw=0.3)
    out = Path(path)
    try:
        fig.savefig(out, dpi=110)
    except (OSError, ValueError) as exc:
        raise InputError(str(out), "plot", str(out), f"cannot write ({exc})") from None
    return out

"""`wattbit forecast …`: import grid data, derive planner signals, show them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import numpy as np
import pandas as pd
import typer
from rich.console import Console
from rich.table import Table

from forecasts.carbon.emission_factors import load_factors
from forecasts.carbon.signals import read_tidy_csv, signals_from_tidy
from forecasts.csv_file import read_forecast_csv, write_forecast_csv
from forecasts.plot import forecast_summary, plot_forecasts
from forecasts.sources.jepx.parse import parse_spot_files
from forecasts.sources.jp_area_forecast import COLUMNS as FORECAST_COLUMNS
from forecasts.sources.jp_area_forecast import parse_area_forecasts
from forecasts.sources.jp_tso.cli import import_app, write_import
from forecasts.sources.jp_tso.parse import parse_area_files
from inputs.cli_errors import exit_with_error
from inputs.errors import InputError

app = typer.Typer(help="Grid signals: import TSO data, derive forecasts, plot them.",
                  no_args_is_help=True)
app.add_typer(import_app, name="import")


@import_app.command("jp-area-forecast")
def import_jp_area_forecast(
    files: Annotated[list[Path], typer.Argument(
        help="The TSOs' day-ahead area forecast CSVs (エリア需給予測) of one area, or .zip "
             "archives of them (their yosoku members), any order.")],
    out: Annotated[Path, typer.Option("--out", help="Tidy CSV to write.")],
    area: Annotated[str | None, typer.Option(
        "--area", help="Area when the file names do not say it, e.g. kyushu.")] = None,
) -> None:
    """Parse TSO area forecast files into one tidy CSV: area demand, generation and wind +
    solar forecast (MW slot means) per half hour, with each file's issue time (UTC)."""
    write_import(lambda: parse_area_forecasts(files, area=area), out, FORECAST_COLUMNS)


# --- `signals` and `show` -------------------------------------------------------------
SIGNAL_SOURCES = ("jp-tso", "tidy")


def _jst(t: pd.Timestamp) -> pd.Timestamp:
    return t.tz_convert("Asia/Tokyo")


@app.command("signals")
def signals_command(
    area: Annotated[str, typer.Option("--area", help="Grid area, e.g. chugoku, kyushu, tokyo.")],
    files: Annotated[list[Path], typer.Option(
        "--file", help="TSO area file (jp-tso) or tidy CSV (tidy); repeat for several.")],
    out: Annotated[Path, typer.Option("--out", help="forecast.csv to write.")],
    source: Annotated[str, typer.Option(
        "--source", help=f"Input kind: {', '.join(SIGNAL_SOURCES)}.")] = "jp-tso",
    prices: Annotated[list[Path] | None, typer.Option(
        "--prices", help="JEPX spot_summary_YYYY.csv; repeat for several years.")] = None,
    basis: Annotated[str | None, typer.Option(
        "--basis", help="Emission factors: direct (default) or lifecycle; "
        "wins over a basis in --factors.")] = None,
    factors_file: Annotated[Path | None, typer.Option(
        "--factors", help="YAML overriding emission factors / thermal shares.")] = None,
    intensity: Annotated[str, typer.Option(
        "--intensity", help="carbon_gco2_per_kwh holds the average or the marginal proxy.",
    )] = "average",
) -> None:
    """Derive per-slot planner signals from grid data and write forecast.csv.

    Signals: carbon gCO2/kWh (average of the mix, or the marginal proxy), marginal
    gCO2/kWh, curtailment MW, JEPX price JPY/kWh. Exit code 2 on bad input.
    """
    try:
        if source not in SIGNAL_SOURCES:
            raise InputError("--source", "source", source, f"must be one of {SIGNAL_SOURCES}")
        if source == "jp-tso":
            tidy = parse_area_files(files, area=area)
        else:
            tidy = pd.concat([read_tidy_csv(f) for f in files], ignore_index=True)
            tidy = tidy.drop_duplicates(subset=["area", "time_utc"], keep="last")
        factors = load_factors(factors_file, basis=basis)
        price_table = parse_spot_files(prices) if prices else None
        forecast = signals_from_tidy(tidy, area.strip().lower(), prices=price_table,
                                     factors=factors, intensity=intensity)
        write_forecast_csv([forecast], out)
    except InputError as exc:
        exit_with_error(exc)
    except OSError as exc:
        exit_with_error(InputError(str(out), "path", str(out), f"cannot write ({exc.strerror})"))
    first = forecast.slot_starts[0].tz_convert("Asia/Tokyo")
    typer.echo(f"{out}: {len(forecast.slot_starts)} slots of {forecast.slot_minutes} min, "
               f"{forecast.region}, from {first:%Y-%m-%d %H:%M} JST, "
               f"mean carbon {forecast.carbon_gco2_per_kwh.mean():.0f} gCO2/kWh")


@app.command("show")
def show_command(
    forecast_csv: Annotated[Path, typer.Argument(help="forecast.csv to summarise.")],
    region: Annotated[str | None, typer.Option("--region", help="Only this region.")] = None,
    plot: Annotated[Path | None, typer.Option(
        "--plot", help="Write a plot of carbon, curtailment and price (PNG).")] = None,
) -> None:
    """Summarise forecast.csv per region and optionally plot it.

    Per region: slots, mean/min/max carbon gCO2/kWh, curtailment hours and MWh, mean
    price JPY/kWh. The plot shows carbon, curtailment and price over time (JST).
    Exit code 2 on bad input.
    """
    try:
        forecasts = read_forecast_csv(forecast_csv)
        if region is not None:
            if region not in forecasts:
                raise InputError(str(forecast_csv), "--region", region,
                                 f"not in the file (have {sorted(forecasts)})")
            forecasts = {region: forecasts[region]}
        summary = forecast_summary(forecasts)
        if plot is not None:
            plot_forecasts(forecasts, plot)
    except InputError as exc:
        exit_with_error(exc)
    table = Table(title=str(forecast_csv), caption="carbon gCO2/kWh, curtailment h and MWh, "
                  "price JPY/kWh; times JST")
    for name in ("region", "slots", "from", "to", "carbon mean", "min", "max",
                 "curt. h", "curt. MWh", "price"):
        table.add_column(name, justify="left" if name == "region" else "right")
    for row in summary.itertuples(index=False):
        price = row.price_mean_jpy_per_kwh
        table.add_row(row.region, str(row.slots), f"{_jst(row.start_utc):%Y-%m-%d}",
                      f"{_jst(row.end_utc):%Y-%m-%d}", f"{row.carbon_mean_gco2_per_kwh:.0f}",
                      f"{row.carbon_min_gco2_per_kwh:.0f}", f"{row.carbon_max_gco2_per_kwh:.0f}",
                      f"{row.curtailment_h:g}", f"{row.curtailment_mwh:.0f}",
                      "-" if np.isnan(price) else f"{price:.2f}")
    Console(width=120).print(table)
    if plot is not None:
        typer.echo(f"plot: {plot}")

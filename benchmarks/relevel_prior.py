"""Choose the weight that holds the curtailment re-levelling back, before the test year.

Usage: `python benchmarks/relevel_prior.py [--data ../shared/data] [--areas …]`

`forecasts.models.hurdle.recent_shift` re-levels the event probability at each issue time
to the last `RECENT_DAYS` days' outcomes, held back by `recent_prior_days` days of
pseudo-slots at the model's own probabilities. This picks that weight the way the event
classifier's settings were picked: by the Brier score of monthly-refit day-ahead forecasts
of the validation split — from 90 days after each area's first slot to the start of its
held-out year (`forecast_skill.py`'s test year) — pooled over every area (the sum of
squared errors of all their slots; areas with many events weigh most, as they should). Each
block's model is fitted once and predicts with every candidate weight. Nothing of a test
year is read.
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
from forecast_skill import AREA_FILES, REPO, WARM_UP, _actual, load_area
from rich.console import Console
from rich.table import Table

from forecasts.models.backtest import rolling_forecast
from forecasts.models.features import CURTAILED_MW, DAY_AHEAD, JST
from forecasts.models.quantile_model import (
    QuantileModel,
    fit_quantile_model,
    predict_event_probability,
)

CANDIDATE_DAYS = (0.25, 0.5, 1.0, 2.0, 3.0, 7.0, 14.0, 28.0)
"""Prior weights tried, days of pseudo-slots."""


def squared_errors(tidy: pd.DataFrame, days: tuple[float, ...]
                   ) -> tuple[dict[float, float], int, int]:
    """Per candidate weight, the sum of squared errors of the validation forecasts' event
    probability; the number of validation slots scored and of curtailed ones."""
    jst = pd.DatetimeIndex(tidy["time_jst"]).tz_convert(JST)
    start = (jst[0] + WARM_UP).normalize()
    end = pd.Timestamp(int(jst[-1].year), 1, 1, tz=JST)
    fitted: dict[int, QuantileModel] = {}

    def fit(history: pd.DataFrame) -> QuantileModel:
        if len(history) not in fitted:  # one fit per block, whatever the weight
            fitted[len(history)] = fit_quantile_model(history, "curtailment_mw", DAY_AHEAD)
        return fitted[len(history)]

    actual = _actual(tidy, "curtailment_mw")
    sse, n, events = {}, 0, 0
    for d in days:
        bt = rolling_forecast(
            tidy, start, end, fit,
            lambda m, h, d=d: predict_event_probability(replace(m, recent_prior_days=d), h)
            .to_frame(), DAY_AHEAD)
        if bt.forecasts.empty:
            return {}, 0, 0
        p = bt.forecasts["p_event"]
        a = actual.reindex(p.index)
        ok = (a.notna() & p.notna()).to_numpy()
        observed = (a.to_numpy()[ok] > CURTAILED_MW).astype(float)
        sse[d] = float(np.sum((p.to_numpy()[ok] - observed) ** 2))
        n, events = int(ok.sum()), int(observed.sum())
    return sse, n, events


def main(argv: list[str] | None = None) -> None:
    default = Path(os.environ.get("WATTBIT_SHARED_DATA", REPO.parent / "shared" / "data"))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=default, help="shared data root")
    ap.add_argument("--areas", nargs="+", choices=list(AREA_FILES),
                    default=[a for a in AREA_FILES if a != "tokyo"],
                    help="areas pooled (Tokyo has no curtailment before its test year)")
    args = ap.parse_args(argv)
    console = Console(width=160)
    table = Table(title="validation Brier score of the event probability per prior weight "
                        "(days of pseudo-slots)")
    for col in ("area", "slots", "events", *(f"{d:g} d" for d in CANDIDATE_DAYS)):
        table.add_column(col, justify="left" if col == "area" else "right")
    pooled = dict.fromkeys(CANDIDATE_DAYS, 0.0)
    total = 0
    t0 = time.perf_counter()
    for area in args.areas:
        sse, n, events = squared_errors(load_area(args.data, area), CANDIDATE_DAYS)
        if not n:
            table.add_row(area, "0", "0", *("–" for _ in CANDIDATE_DAYS))
            continue
        table.add_row(area, str(n), str(events), *(f"{sse[d] / n:.5f}" for d in CANDIDATE_DAYS))
        for d in CANDIDATE_DAYS:
            pooled[d] += sse[d]
        total += n
    if not total:
        raise SystemExit("no validation forecasts in any area")
    table.add_section()
    table.add_row("pooled", str(total), "", *(f"{pooled[d] / total:.5f}" for d in CANDIDATE_DAYS))
    console.print(table)
    best = min(CANDIDATE_DAYS, key=lambda d: (pooled[d], d))
    console.print(f"lowest pooled Brier score: {best:g} days "
                  f"({time.perf_counter() - t0:.0f} s)", markup=False)


if __name__ == "__main__":
    main()

"""Rolling-origin evaluation: refit on everything before each block, forecast the block.

The delivery period is cut into blocks of whole JST days (a calendar month by default).
For each block a method is fitted on the history observed before the issue time of the
block's first day, then forecasts the block's slots; the forecast of every slot uses only
data observed before its own issue time. This is what an operator retraining monthly
would have had, and nothing of a block is seen by the model that forecasts it.

`choose_threshold` picks the event-probability threshold on such out-of-sample forecasts
of a validation period that ends before the test period starts.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np
import pandas as pd

from forecasts.models.features import JST, IssueRule, issue_times
from inputs.errors import InputError

Fitted = TypeVar("Fitted")
THRESHOLDS = tuple(np.round(np.arange(0.05, 0.951, 0.025), 3))
"""Candidate event-probability thresholds."""


@dataclass
class Backtest:
    """Out-of-sample forecasts of a period and the blocks that could not be fitted."""

    forecasts: pd.DataFrame
    """Rows = forecast slots (UTC), columns as the method returns them."""
    skipped: list[str] = field(default_factory=list)
    """One line per block whose fit raised `InputError` (its slots are absent)."""


def blocks(start: pd.Timestamp, end: pd.Timestamp, every: str = "MS") -> list[pd.Timestamp]:
    """Block boundaries (JST midnights) from `start` to `end`: `start`, each pandas
    `every` boundary in between (e.g. 'MS' month starts, 'QS' quarters), `end`."""
    s = pd.Timestamp(start).tz_convert(JST).normalize()
    e = pd.Timestamp(end).tz_convert(JST).normalize()
    if e <= s:
        raise InputError("backtest", "period", (str(s), str(e)), "end must be after start")
    inner = pd.date_range(s, e, freq=every, tz=JST) if every else pd.DatetimeIndex([])
    return sorted({s, e, *(t for t in inner if s < t < e)})


def rolling_forecast(history: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp,
                     fit: Callable[[pd.DataFrame], Fitted],
                     forecast: Callable[[Fitted, pd.DataFrame], pd.DataFrame],
                     rule: IssueRule, every: str = "MS") -> Backtest:
    """Refit `fit` per block on the history before the block's first issue time and
    collect `forecast(fitted, history)` for the block's slots (JST days `start` … `end`)."""
    times = pd.DatetimeIndex(history["time_utc"])
    edges = blocks(start, end, every)
    parts, skipped = [], []
    for b0, b1 in itertools.pairwise(edges):
        issued = issue_times(pd.DatetimeIndex([b0]), rule)[0]
        try:
            fitted = fit(history[times < issued])
        except InputError as err:
            skipped.append(f"{b0:%Y-%m-%d}: {err.problem}")
            continue
        out = forecast(fitted, history)
        idx = pd.DatetimeIndex(out.index)
        parts.append(out[(idx >= b0) & (idx < b1)])
    frame = pd.concat(parts) if parts else pd.DataFrame()
    return Backtest(forecasts=frame, skipped=skipped)


def choose_threshold(probability: pd.Series, event: pd.Series,
                     default: float = 0.5, min_events: int = 20) -> float:
    """The threshold of `THRESHOLDS` that maximises the F1 score (equivalently the critical
    success index) of "event when P ≥ threshold"; `default` with fewer than `min_events`
    observed events (too few to choose from)."""
    pair = pd.DataFrame({"p": probability, "o": event}).dropna()
    o = pair["o"].to_numpy(dtype=bool)
    if o.sum() < min_events:
        return default
    p = pair["p"].to_numpy(dtype=float)
    best, best_f1 = default, -1.0
    for t in THRESHOLDS:
        f = p >= t
        hits = np.sum(f & o)
        f1 = 2 * hits / (f.sum() + o.sum())
        if f1 > best_f1 + 1e-12:
            best, best_f1 = float(t), float(f1)
    return best

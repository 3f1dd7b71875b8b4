"""The forecasts the planner sees at each re-plan, made from the actual signals.

* `perfect` — the actual signals (what the oracle and a perfect forecaster know).
* `noisy` — actuals × (1 + e), e normal with σ = `error_at_24h` × lead / 24 h, correlated
  from slot to slot (AR(1), φ = 0.9), seeded by the scenario seed, region and issue time.
* `seasonal-naive` — each slot copies the same slot of the latest day observed by the issue
  time (one day back, or two for slots less than a day ahead).
* `model` — the project's quantile models (`forecasts.models`), trained only on the
  history before the simulated period, issued at 10:00 JST for the next JST day and, as far
  as the re-plan horizon reaches, the days after it (one model per lead,
  `features.days_ahead`), and re-issued for the rest of the day every 2 h over the solar day
  (`INTRADAY_HOURS_JST`, `features.intraday`: the morning's observations then show
  whether the day curtails). Each slot gets the latest forecast issued by the re-plan time.
  A region or signal the models cannot learn (a `file` source, a signal its source does
  not report, too few curtailed slots) gets seasonal-naive throughout; `notes` says which.

No forecaster reads a signal observed after the moment of issue, except `perfect` and
`noisy`, whose point is to know the future (exactly or with a chosen error), and any model
given `known_hours`: the slots starting within that many hours of the issue get the actual
signals — a what-if, the value of a perfect nowcast.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from forecasts.forecast import Forecast
from forecasts.models.features import (
    DAY_AHEAD,
    IssueRule,
    days_ahead,
    intraday,
    issue_times,
)
from forecasts.models.quantile_model import fit_quantile_model, predict
from inputs.errors import InputError
from simulations.signals import RegionSignals, for_planner, window

DAY = pd.Timedelta(days=1)
NOISE_PHI = 0.9
Z90 = 1.2816
"""The standard normal's 90th percentile."""
MODEL_TARGETS = ("carbon_gco2_per_kwh", "curtailment_mw")
MAX_LEAD_DAYS = 6
"""The longest lead a model is trained for (beyond: seasonal-naive)."""
INTRADAY_HOURS_JST = (8.0, 10.0, 12.0, 14.0)
"""Same-day re-issues of the models (JST), every 2 h while the sun decides curtailment."""


@dataclass
class Forecaster:
    """Issues forecasts for every region at a re-plan time."""

    model: str
    signals: Mapping[str, RegionSignals]
    seed: int = 0
    error_at_24h: float = 0.15
    known_hours: float = 0.0
    """Slots starting before issue + `known_hours` get the actual signals (what-if)."""
    predictions: dict[tuple[str, str], list[tuple[IssueRule, pd.DataFrame]]] = field(
        default_factory=dict)
    """(region, target) → per issue rule, latest issue first, the model's p10/p50/p90 on
    the slots of the region's actual signals, and when each was issued (`issued_utc`,
    tz-naive UTC) (`model` only)."""
    notes: list[str] = field(default_factory=list)

    def issue(self, now: pd.Timestamp, until: pd.Timestamp) -> dict[str, Forecast]:
        """Forecasts made at `now` for the slots from the one containing `now` to `until`
        (tz-aware, any zone), as the planner reads them (`for_planner`)."""
        now, until = pd.Timestamp(now).tz_convert("UTC"), pd.Timestamp(until).tz_convert("UTC")
        out = {}
        for i, (region, sig) in enumerate(sorted(self.signals.items())):
            fc = sig.actual
            start = slot_of(fc, now)
            part, first = window(fc, start, until), int(fc.slot_starts.searchsorted(start))
            if self.model != "perfect":
                predicted = replace(part, **self._predict(i, region, fc, part, first, now))
                # without known hours not even the slot under way (begun before `now`)
                part = predicted if self.known_hours <= 0 else known_first(
                    predicted, part, now + pd.Timedelta(hours=self.known_hours))
            out[region] = for_planner(replace(part, issued_at=now.to_pydatetime(),
                                              source=f"simulated-{self.model}"))
        return out

    def _predict(self, i: int, region: str, fc: Forecast, part: Forecast, first: int,
                 now: pd.Timestamp) -> dict[str, Any]:
        """The forecast fields at `now` for `part`, the slots of `fc` from index `first`:
        point values and, where the model knows its spread, the `_p10`/`_p90` quantiles
        (what a planner with a risk setting reads)."""
        names = forecast_signals(part)
        if self.model == "noisy":
            return self._noisy(i, part, now, names)
        out: dict[str, Any] = {n: seasonal_naive(fc, n, part.slot_starts, now)
                               for n in names}
        if self.model == "model":
            quantiles = {}
            for target in MODEL_TARGETS:
                if (region, target) not in self.predictions:
                    continue
                values = {level: out[target].copy() for level in ("p10", "p50", "p90")}
                rows = slice(first, first + len(part.slot_starts))
                filled = np.zeros(len(part.slot_starts), dtype=bool)
                known = now.tz_convert(None).to_datetime64()
                for _, pred in self.predictions[(region, target)]:
                    use = (~filled & (pred["issued_utc"].to_numpy()[rows] <= known)
                           & np.isfinite(pred["p50"].to_numpy()[rows]))
                    for level, v in values.items():
                        v[use] = pred[level].to_numpy()[rows][use]
                    filled |= use
                out[target] = values["p50"]
                quantiles.update({f"{target}_{level}": values[level] for level in ("p10", "p90")})
            out["quantiles"] = quantiles
        return out

    def _noisy(self, i: int, part: Forecast, now: pd.Timestamp, names: list[str]
               ) -> dict[str, Any]:
        """Actuals × (1 + σ(lead) z), z AR(1) standard normal; p10/p90 = value × (1 ∓
        1.2816 σ), the spread the forecaster knows it has."""
        rng = np.random.default_rng([self.seed, i, int(now.timestamp())])
        lead_h = (part.slot_starts - now).total_seconds().to_numpy() / 3600.0
        sigma = self.error_at_24h * np.maximum(lead_h, 0.0) / 24.0
        out = {}
        for n in names:
            z = np.empty(len(lead_h))
            prev = 0.0
            for k, e in enumerate(rng.standard_normal(len(lead_h))):
                prev = NOISE_PHI * prev + np.sqrt(1 - NOISE_PHI ** 2) * e
                z[k] = prev
            out[n] = np.maximum(0.0, getattr(part, n) * (1.0 + sigma * z))
        out["quantiles"] = {f"{n}_{level}": np.maximum(0.0, out[n] * (1.0 + k * sigma))
                            for n in names for level, k in (("p10", -Z90), ("p90", Z90))}
        return out


def forecast_signals(fc: Forecast) -> list[str]:
    """The signals a forecaster predicts for `fc`'s region (marginal carbon where given)."""
    names = ["carbon_gco2_per_kwh", "curtailment_mw"]
    if fc.marginal_gco2_per_kwh is not None:
        names.append("marginal_gco2_per_kwh")
    return names


def known_first(predicted: Forecast, actual: Forecast, until: pd.Timestamp) -> Forecast:
    """`predicted` with the slots starting before `until` taken from `actual` (the same
    slots): point values, and p10/p90 collapsed onto them."""
    known = predicted.slot_starts < until
    if not known.any():
        return predicted
    values = {n: np.where(known, getattr(actual, n), getattr(predicted, n))
              for n in forecast_signals(predicted)}
    quantiles = dict(predicted.quantiles)
    for key, q in predicted.quantiles.items():
        name = key.rsplit("_", 1)[0]  # <signal>_p10 / _p90
        if name in values:
            quantiles[key] = np.where(known, values[name], q)
    return replace(predicted, **values, quantiles=quantiles)


def slot_of(fc: Forecast, when: pd.Timestamp) -> pd.Timestamp:
    """Start of the slot of `fc`'s grid that contains `when`."""
    step = pd.Timedelta(minutes=fc.slot_minutes)
    return fc.slot_starts[0] + ((when - fc.slot_starts[0]) // step) * step


def seasonal_naive(fc: Forecast, name: str, slots: pd.DatetimeIndex, now: pd.Timestamp
                   ) -> np.ndarray:
    """`name` of the latest whole day observed by `now` at the same time of day, per slot
    (NaN where the signals do not reach back so far, or `fc` has no such slot)."""
    step, day = fc.slot_minutes * 60 * 10**9, DAY.value  # ns
    at = slots.as_unit("ns").asi8
    back = np.maximum(1, -((now.value - at - step) // day))  # whole days, rounded up
    offset = at - back * day - fc.slot_starts[0].as_unit("ns").value
    pos = offset // step
    ok = (offset % step == 0) & (pos >= 0) & (pos < len(fc.slot_starts))
    out = np.full(len(slots), np.nan)
    out[ok] = np.asarray(getattr(fc, name), dtype=float)[pos[ok]]
    return out


def make_forecaster(model: str, signals: Mapping[str, RegionSignals], start: pd.Timestamp,
                    seed: int = 0, error_at_24h: float = 0.15,
                    horizon_hours: float = 24.0, workers: int = 1,
                    known_hours: float = 0.0) -> Forecaster:
    """A forecaster; for `model`, its quantile models are trained here on each region's
    history before `start`, one per intraday issue and per lead day a re-plan
    `horizon_hours` long can reach, and their predictions made for the whole period (each
    region's and target's in one of `workers` processes: a model's fit hardly uses a
    second core)."""
    fc = Forecaster(model, signals, seed, error_at_24h, known_hours)
    if model != "model":
        return fc
    # The longest lead is needed just before the issue hour: the latest forecasts were
    # issued yesterday, today's at lead 1, and the horizon reaches `horizon_hours` on.
    leads = min(MAX_LEAD_DAYS, int((DAY_AHEAD.issue_hour_jst + horizon_hours) // 24) + 1)
    # latest issue first: a slot takes the first rule issued by the re-plan time
    rules = [*(intraday(h) for h in sorted(INTRADAY_HOURS_JST, reverse=True)),
             *(days_ahead(k) for k in range(1, leads + 1))]
    keys = [(region, target) for region, sig in sorted(signals.items())
            if sig.tidy is not None for target in MODEL_TARGETS]
    args = ([signals[region] for region, _ in keys], [start] * len(keys),
            [target for _, target in keys], [rules] * len(keys))
    if workers > 1 and len(keys) > 1:
        with ProcessPoolExecutor(min(workers, len(keys)),
                                 mp_context=multiprocessing.get_context("spawn")) as pool:
            trained = dict(zip(keys, pool.map(_trained, *args), strict=True))
    else:
        trained = dict(zip(keys, map(_trained, *args), strict=True))
    for region, sig in sorted(signals.items()):
        if sig.tidy is None:
            fc.notes.append(f"{region}: no history table in its source; "
                            "seasonal-naive forecasts")
            continue
        for target in MODEL_TARGETS:
            fitted, failed = trained[(region, target)]
            if not fitted:
                fc.notes.append(f"{region} {target}: model not trained "
                                f"({next(iter(failed.values()))}); seasonal-naive forecasts")
                continue
            fc.predictions[(region, target)] = fitted
            fc.notes += [f"{region} {target}: no {name} model ({why}); its slots take the "
                         "other issues' forecasts, else seasonal-naive"
                         for name, why in failed.items()]
    return fc


def _trained(sig: RegionSignals, start: pd.Timestamp, target: str, rules: list[IssueRule]
             ) -> tuple[list[tuple[IssueRule, pd.DataFrame]], dict[str, str]]:
    """`target`'s models, one per rule, trained on `sig`'s history before `start`: their
    p10/p50/p90 on the slots of the actual signals with their issue times (`issued_utc`),
    and, per rule whose model could not be trained (e.g. too few curtailed slots after a
    late intraday issue hour), why."""
    assert sig.tidy is not None
    history = sig.tidy[pd.DatetimeIndex(sig.tidy["time_utc"]) < start]
    grid = sig.actual.slot_starts
    fitted, failed = [], {}
    for rule in rules:
        try:
            m = fit_quantile_model(history, target, rule)
        except InputError as err:
            failed[rule.name] = f"{err.field}={err.value!r}: {err.problem}"
            continue
        fitted.append((rule, _on_grid(predict(m, sig.tidy)[["p10", "p50", "p90"]],
                                      sig.actual.slot_minutes).reindex(grid).assign(
            issued_utc=issue_times(grid, rule).tz_convert(None))))
    return fitted, failed


def _on_grid(pred: pd.DataFrame, minutes: int) -> pd.DataFrame:
    """Predictions on the simulation's slots (repeat coarser values, average finer ones)."""
    step = pd.Series(pred.index).diff().min()
    if pd.isna(step) or step == pd.Timedelta(minutes=minutes):
        return pred
    if step > pd.Timedelta(minutes=minutes):
        idx = pd.date_range(pred.index[0], pred.index[-1] + step, freq=f"{minutes}min",
                            inclusive="left")
        return pred.reindex(idx, method="ffill")
    return pred.resample(f"{minutes}min").mean()

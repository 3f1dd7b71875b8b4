"""Disk cache of the last good forecast per provider and region, and staleness handling.

`CachedProvider` wraps any provider. On success it stores the forecast on disk (one JSON
file per provider+region, written atomically) and returns it. When the provider fails
(`ProviderError`), or returns data issued more than `max_age` ago, it returns the last
good forecast marked `stale=True` — never invented values — with quantile bands that
widen with its age:

    w = min(1, band_per_h · age_h)
    <signal>_p10 = value · (1 − w),  <signal>_p90 = value · (1 + w)

for `carbon_gco2_per_kwh`, `curtailment_mw` and `price_jpy_per_kwh` (an existing band is
only ever widened, never narrowed). `age_h` counts from `issued_at`, or from the time the
forecast was fetched when the source gives no issue time. With the default 0.05/h a
forecast 4 h old carries ±20 %, one 20 h old ±100 % (p10 = 0).

With no last good forecast the provider's typed error propagates: the caller decides.
Every failure is counted in a `FailureCounter` (`(provider, reason)` → count; the
Prometheus exporter reads `.counts`) and logged once per transition of a provider/region
into a failure reason (and once on recovery), not once per call.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import re
import tempfile
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from forecasts.forecast import SERIES, Forecast
from forecasts.providers import Provider
from forecasts.providers._common import clip
from forecasts.providers.http import ProviderError
from inputs.clock import utc_now
from inputs.errors import InputError

log = logging.getLogger(__name__)

BAND_SIGNALS = ("carbon_gco2_per_kwh", "curtailment_mw", "price_jpy_per_kwh")
CACHE_FORMAT = 1


class FailureCounter:
    """Thread-safe failure counts keyed `(provider, reason)`; no metrics library needed."""

    def __init__(self) -> None:
        self._counts: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()

    def inc(self, provider: str, reason: str) -> None:
        """Count one failure of `provider` for `reason` (a short bounded label)."""
        with self._lock:
            key = (provider, reason)
            self._counts[key] = self._counts.get(key, 0) + 1

    @property
    def counts(self) -> dict[tuple[str, str], int]:
        """A snapshot copy of the counts."""
        with self._lock:
            return dict(self._counts)


def widen_bands(fc: Forecast, age_h: float, band_per_h: float) -> Forecast:
    """`fc` marked stale, with p10/p90 bands of relative half-width min(1, band_per_h·age_h)."""
    w = min(1.0, max(0.0, band_per_h * age_h))
    quantiles = {k: np.asarray(v, dtype=float) for k, v in fc.quantiles.items()}
    for signal in BAND_SIGNALS:
        values = getattr(fc, signal)
        if values is None:
            continue
        lo, hi = values * (1.0 - w), values * (1.0 + w)
        quantiles[f"{signal}_p10"] = np.fmin(quantiles.get(f"{signal}_p10", lo), lo)
        quantiles[f"{signal}_p90"] = np.fmax(quantiles.get(f"{signal}_p90", hi), hi)
    return dataclasses.replace(fc, stale=True, quantiles=quantiles)


def forecast_to_json(fc: Forecast, fetched_at: datetime) -> dict[str, Any]:
    """A JSON-ready dict of `fc` (NaN → null) plus the time it was fetched."""
    def arr(a: np.ndarray | None) -> list[float | None] | None:
        return None if a is None else [None if np.isnan(x) else float(x) for x in a]

    return {
        "format": CACHE_FORMAT,
        "fetched_at": fetched_at.isoformat(),
        "region": fc.region,
        "slot_minutes": fc.slot_minutes,
        "slot_starts": [t.isoformat() for t in fc.slot_starts],
        **{name: arr(getattr(fc, name)) for name in SERIES},
        "quantiles": {k: arr(np.asarray(v, dtype=float)) for k, v in fc.quantiles.items()},
        "issued_at": None if fc.issued_at is None else fc.issued_at.isoformat(),
        "source": fc.source,
    }


def forecast_from_json(doc: dict[str, Any]) -> tuple[Forecast, datetime]:
    """Inverse of `forecast_to_json`; raises KeyError/ValueError/TypeError on a bad file."""
    if doc.get("format") != CACHE_FORMAT:
        raise ValueError(f"cache format {doc.get('format')!r}, want {CACHE_FORMAT}")

    def arr(a: list[float | None]) -> np.ndarray:
        return np.array([np.nan if x is None else x for x in a], dtype=float)

    def opt(a: list[float | None] | None) -> np.ndarray | None:
        return None if a is None else arr(a)

    fc = Forecast(
        region=doc["region"],
        slot_starts=pd.DatetimeIndex(pd.to_datetime(doc["slot_starts"], utc=True,
                                                    format="ISO8601")),
        slot_minutes=int(doc["slot_minutes"]),
        carbon_gco2_per_kwh=arr(doc["carbon_gco2_per_kwh"]),
        curtailment_mw=arr(doc["curtailment_mw"]),
        curtailment_probability=opt(doc.get("curtailment_probability")),
        marginal_gco2_per_kwh=opt(doc.get("marginal_gco2_per_kwh")),
        price_jpy_per_kwh=opt(doc.get("price_jpy_per_kwh")),
        temperature_c=opt(doc.get("temperature_c")),
        quantiles={k: arr(v) for k, v in doc.get("quantiles", {}).items()},
        issued_at=None if doc.get("issued_at") is None
        else datetime.fromisoformat(doc["issued_at"]),
        source=str(doc.get("source", "unknown")),
    )
    return fc, datetime.fromisoformat(doc["fetched_at"])


class CachedProvider:
    """A provider that falls back to its last good forecast, marked stale, when it fails."""

    def __init__(
        self,
        provider: Provider,
        cache_dir: str | Path,
        clock: Callable[[], datetime] = utc_now,
        max_age: timedelta = timedelta(hours=3),
        counter: FailureCounter | None = None,
        band_per_h: float = 0.05,
    ) -> None:
        self.provider = provider
        self.name = provider.name
        self.cache_dir = Path(cache_dir)
        self.clock = clock
        self.max_age = max_age
        self.counter = counter or FailureCounter()
        self.band_per_h = band_per_h
        self._failing: dict[str, str] = {}  # region → reason it is failing for
        self._write_failing: set[str] = set()
        self._lock = threading.Lock()

    def fetch(self, region: str, start: datetime | None = None,
              end: datetime | None = None) -> Forecast:
        """Fresh forecast if the provider delivers; else the last good one marked stale."""
        now = self.clock()
        try:
            fc = self.provider.fetch(region, start, end)
        except ProviderError as err:
            self._note_failure(region, err.reason, str(err))
            cached = self.last_good(region)
            if cached is None:
                raise
            old, fetched_at = cached
            try:
                old = clip(old, start, end)
            except InputError:
                raise err from None  # the last good forecast does not reach the window
            return widen_bands(old, self._age_h(old, fetched_at, now), self.band_per_h)
        self._store(region, fc, now)
        age_h = self._age_h(fc, now, now)
        if age_h > self.max_age.total_seconds() / 3600:
            self._note_failure(region, "stale_data",
                               f"issued {age_h:.1f} h ago (max {self.max_age})")
            return widen_bands(fc, age_h, self.band_per_h)
        self._note_recovery(region)
        return fc

    def path(self, region: str) -> Path:
        """Cache file of `region` (readable name plus a short hash against collisions)."""
        key = f"{self.name}__{region}"
        safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", key)
        digest = hashlib.sha1(key.encode()).hexdigest()[:8]
        return self.cache_dir / f"{safe}-{digest}.json"

    def last_good(self, region: str) -> tuple[Forecast, datetime] | None:
        """(forecast, fetched_at) from disk, or None if absent or unreadable."""
        path = self.path(region)
        if not path.exists():
            return None
        try:
            return forecast_from_json(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            self.counter.inc(self.name, "cache_corrupt")
            log.warning("%s %s: ignoring unreadable cache file %s (%s)",
                        self.name, region, path, exc)
            return None

    def _store(self, region: str, fc: Forecast, now: datetime) -> None:
        path = self.path(region)
        try:
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            text = json.dumps(forecast_to_json(fc, now), allow_nan=False)
            fd, tmp = tempfile.mkstemp(dir=self.cache_dir, prefix=".tmp-", suffix=".json")
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
            os.replace(tmp, path)
        except OSError as exc:
            self.counter.inc(self.name, "cache_write")
            if region not in self._write_failing:  # log once, not per call
                self._write_failing.add(region)
                log.warning("%s %s: cannot write cache %s (%s)", self.name, region, path, exc)
        else:
            self._write_failing.discard(region)

    def _age_h(self, fc: Forecast, fetched_at: datetime, now: datetime) -> float:
        ref = fc.issued_at or fetched_at
        return max(0.0, (now - ref).total_seconds() / 3600)

    def _note_failure(self, region: str, reason: str, detail: str) -> None:
        self.counter.inc(self.name, reason)
        with self._lock:
            changed = self._failing.get(region) != reason
            self._failing[region] = reason
        if changed:
            log.warning("%s %s: %s (%s); using the last good forecast, marked stale, "
                        "until it recovers", self.name, region, reason, detail)

    def _note_recovery(self, region: str) -> None:
        with self._lock:
            reason = self._failing.pop(region, None)
        if reason is not None:
            log.info("%s %s: recovered from %s", self.name, region, reason)

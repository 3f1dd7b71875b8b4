"""GB Carbon Intensity API (NESO): national and regional 48-hour forecasts, no key.

- national: `GET {base}/intensity/{from}/fw48h` → `{data: [{from, to, intensity:
  {forecast, actual, index}}]}`
- regional: `GET {base}/regional/intensity/{from}/fw48h/regionid/{id}` → `{data: {regionid,
  dnoregion, shortname, data: [{from, to, intensity: {forecast, index}, generationmix}]}}`
  (the docs print `data` as a one-element list; both shapes are accepted).

Regions: `GB` = national; `GB-<id>` with id 1–17 = a DNO region (e.g. `GB-3` North West
England). `{from}` is `YYYY-MM-DDThh:mmZ`, UTC; periods are 30 min; intensity gCO2/kWh.
The `forecast` value is used (the `actual` is only there for past periods). No curtailment
is published: `curtailment_mw` is 0.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from forecasts.forecast import Forecast
from forecasts.providers._common import check_window, clip, iso_z, require, to_slot_grid, utc_times
from forecasts.providers.http import HttpClient, HttpConfig, ProviderDataError
from inputs.clock import utc_now
from inputs.errors import InputError

NAME = "uk-carbon-intensity"
REGION = re.compile(r"^GB(?:-(\d{1,2}))?$")
PERIOD_S = 1800


@dataclass(frozen=True)
class UkCarbonIntensityConfig:
    """Endpoint and slot grid of the GB Carbon Intensity provider."""

    base_url: str = "https://api.carbonintensity.org.uk"
    slot_minutes: int = 30
    http: HttpConfig = field(default_factory=HttpConfig)


class UkCarbonIntensityProvider:
    """`fetch("GB" | "GB-<id>", start, end)` → 48 h carbon-intensity forecast."""

    name = NAME

    def __init__(self, config: UkCarbonIntensityConfig | None = None,
                 client: HttpClient | None = None,
                 clock: Callable[[], datetime] = utc_now) -> None:
        self.config = config or UkCarbonIntensityConfig()
        self.client = client or HttpClient(NAME, self.config.http)
        self.clock = clock

    def url(self, region: str, start: datetime) -> str:
        """The fw48h URL for `region` from `start` (UTC)."""
        m = REGION.match(region)
        if not m:
            raise InputError(NAME, "region", region, "expected GB or GB-<regionid 1..17>")
        base = self.config.base_url.rstrip("/")
        if m.group(1) is None:
            return f"{base}/intensity/{iso_z(start)}/fw48h"
        rid = int(m.group(1))
        if not 1 <= rid <= 17:
            raise InputError(NAME, "region", region, "regionid must be 1..17")
        return f"{base}/regional/intensity/{iso_z(start)}/fw48h/regionid/{rid}"

    def fetch(self, region: str, start: datetime | None = None,
              end: datetime | None = None) -> Forecast:
        """48 h forecast from `start` (default: now) for `region`, clipped to `end`."""
        check_window(start, end)
        url = self.url(region, start or self.clock())
        body = self.client.get_json(url)
        fc = parse_response(body, region, self.config.slot_minutes, url)
        return clip(fc, start, end)


def parse_response(body: Any, region: str, slot_minutes: int, url: str = "") -> Forecast:
    """A national or regional fw48h body → `Forecast`."""
    data = require(NAME, body, "data", "", (list, dict), url)
    path = "data"
    m = REGION.match(region)
    if m is not None and m.group(1) is not None:  # regional: periods nest one level deeper
        block = data[0] if isinstance(data, list) and data else data
        path = "data[0]" if isinstance(data, list) else "data"
        data = require(NAME, block, "data", path, list, url)
        path += ".data"
    if not isinstance(data, list) or not data:
        raise ProviderDataError(NAME, path, "expected a non-empty list of periods", url)
    times: list[Any] = []
    values: list[Any] = []
    for i, item in enumerate(data):
        times.append(require(NAME, item, "from", f"{path}[{i}]", str, url))
        intensity = require(NAME, item, "intensity", f"{path}[{i}]", dict, url)
        value = require(NAME, intensity, "forecast", f"{path}[{i}].intensity",
                        (int, float, type(None)), url)
        values.append(np.nan if value is None else float(value))
    frame = pd.DataFrame({"time": utc_times(NAME, times, f"{path}[].from", url),
                          "value": np.asarray(values, dtype=float)})
    slots, carbon = to_slot_grid(NAME, frame, slot_minutes, PERIOD_S,
                                 f"{path}[].intensity.forecast")
    return Forecast(
        region=region, slot_starts=slots, slot_minutes=slot_minutes,
        carbon_gco2_per_kwh=carbon, curtailment_mw=np.zeros(len(slots)),
        source=f"{NAME}:{'regional' if path != 'data' else 'national'}",
    )

"""Electricity Maps API v3: carbon-intensity forecast and history for a zone.

- `GET {base}/v3/carbon-intensity/forecast?zone=Z` → `{zone, forecast: [{datetime,
  carbonIntensity}], updatedAt}`
- `GET {base}/v3/carbon-intensity/history?zone=Z` → `{zone, history: [{datetime,
  carbonIntensity, updatedAt, isEstimated, …}]}` (last 24 h; `carbonIntensity` may be null)

Authentication is the `auth-token` header. `carbonIntensity` is gCO2eq/kWh (location-based,
lifecycle factors by default) and lands in `carbon_gco2_per_kwh`; points are hourly unless
the account asks for a finer granularity, and are put on the slot grid by `_common`.
The service publishes no curtailment: `curtailment_mw` is 0 (none known).
Schema from the published v3 docs and the Carbon Aware SDK's Electricity Maps client
(`ForecastedCarbonIntensityData`/`HistoryCarbonIntensityData`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from forecasts.forecast import Forecast
from forecasts.providers._common import (
    check_window,
    clip,
    infer_period_s,
    records,
    require,
    to_slot_grid,
    utc_times,
)
from forecasts.providers.http import HttpClient, HttpConfig

NAME = "electricitymaps"


@dataclass(frozen=True)
class ElectricityMapsConfig:
    """Where and how to call Electricity Maps."""

    token: str = field(repr=False)
    """API key, sent as the `auth-token` header."""
    base_url: str = "https://api.electricitymap.org"
    slot_minutes: int = 30
    http: HttpConfig = field(default_factory=HttpConfig)


class ElectricityMapsProvider:
    """`fetch(zone, start, end)` → the zone's carbon-intensity forecast (gCO2/kWh)."""

    name = NAME

    def __init__(self, config: ElectricityMapsConfig, client: HttpClient | None = None) -> None:
        self.config = config
        self.client = client or HttpClient(NAME, config.http)

    def fetch(self, region: str, start: datetime | None = None,
              end: datetime | None = None) -> Forecast:
        """Forecast for zone `region` (e.g. `JP-TK`), clipped to `[start, end)`."""
        check_window(start, end)
        return clip(self._get("forecast", region), start, end)

    def fetch_history(self, region: str, start: datetime | None = None,
                      end: datetime | None = None) -> Forecast:
        """The zone's last 24 h of carbon intensity, as a `Forecast` of past slots."""
        check_window(start, end)
        return clip(self._get("history", region), start, end)

    def _get(self, kind: str, zone: str) -> Forecast:
        url = f"{self.config.base_url.rstrip('/')}/v3/carbon-intensity/{kind}"
        body = self.client.get_json(url, params={"zone": zone},
                                    headers={"auth-token": self.config.token})
        return parse_response(body, kind, zone, self.config.slot_minutes, url)


def parse_response(body: Any, kind: str, zone: str, slot_minutes: int, url: str = "") -> Forecast:
    """A v3 `forecast`/`history` body → `Forecast` on `slot_minutes` slots."""
    items = require(NAME, body, kind, "", list, url)
    frame = records(NAME, items, kind, "datetime", "carbonIntensity", url)
    period_s = infer_period_s(pd.DatetimeIndex(frame["time"]), 3600)
    slots, carbon = to_slot_grid(NAME, frame, slot_minutes, period_s, f"{kind}[].carbonIntensity")
    issued = None
    if kind == "forecast" and body.get("updatedAt") is not None:
        issued = utc_times(NAME, [body["updatedAt"]], "updatedAt", url)[0].to_pydatetime()
    return Forecast(
        region=str(body.get("zone") or zone),
        slot_starts=slots,
        slot_minutes=slot_minutes,
        carbon_gco2_per_kwh=carbon,
        curtailment_mw=np.zeros(len(slots)),
        issued_at=issued,
        source=f"{NAME}:{kind}",
    )

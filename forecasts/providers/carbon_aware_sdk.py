"""Green Software Foundation Carbon Aware SDK, Web API forecast endpoints.

- `GET {base}/emissions/forecasts/current?location=L[&dataStartAt=&dataEndAt=]` → a list of
  `{requestedAt, generatedAt, location, dataStartAt, dataEndAt, windowSize,
  optimalDataPoint(s), forecastData: [{location, timestamp, duration, value}]}`.
- `POST {base}/emissions/forecasts/batch` with `[{location, requestedAt, dataStartAt,
  dataEndAt, windowSize}]` → the same objects for forecasts issued at `requestedAt`
  (historical forecasts; `fetch_issued_at`).

`value` is gCO2/kWh (the SDK's `rating`, from WattTime or Electricity Maps behind it),
`duration` minutes (5 for WattTime-backed deployments, averaged onto the slot grid). The
SDK publishes no curtailment: `curtailment_mw` is 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from forecasts.forecast import Forecast
from forecasts.providers._common import (
    check_window,
    clip,
    records,
    require,
    to_slot_grid,
    utc_times,
)
from forecasts.providers.http import HttpClient, HttpConfig, ProviderDataError

NAME = "carbon-aware-sdk"


@dataclass(frozen=True)
class CarbonAwareSdkConfig:
    """Where the SDK's Web API runs (usually in-cluster) and the slot grid."""

    base_url: str = "http://localhost:8080"
    slot_minutes: int = 30
    http: HttpConfig = field(default_factory=HttpConfig)


class CarbonAwareSdkProvider:
    """`fetch(location, start, end)` → the SDK's current forecast for `location`."""

    name = NAME

    def __init__(self, config: CarbonAwareSdkConfig | None = None,
                 client: HttpClient | None = None) -> None:
        self.config = config or CarbonAwareSdkConfig()
        self.client = client or HttpClient(NAME, self.config.http)

    def fetch(self, region: str, start: datetime | None = None,
              end: datetime | None = None) -> Forecast:
        """Current forecast for SDK location `region` (e.g. `eastus`), clipped to the window."""
        check_window(start, end)
        url = f"{self.config.base_url.rstrip('/')}/emissions/forecasts/current"
        params: dict[str, str] = {"location": region}
        if start is not None:
            params["dataStartAt"] = start.isoformat()
        if end is not None:
            params["dataEndAt"] = end.isoformat()
        body = self.client.get_json(url, params=params)
        return clip(parse_response(body, region, self.config.slot_minutes, url), start, end)

    def fetch_issued_at(self, region: str, requested_at: datetime, start: datetime,
                        end: datetime) -> Forecast:
        """The forecast as it was issued at `requested_at` (one-item batch request)."""
        check_window(start, end)
        check_window(requested_at, None)
        url = f"{self.config.base_url.rstrip('/')}/emissions/forecasts/batch"
        item = {"location": region, "requestedAt": requested_at.isoformat(),
                "dataStartAt": start.isoformat(), "dataEndAt": end.isoformat()}
        body = self.client.post_json(url, [item])
        return clip(parse_response(body, region, self.config.slot_minutes, url), start, end)


def parse_response(body: Any, location: str, slot_minutes: int, url: str = "") -> Forecast:
    """A list of EmissionsForecast objects → the `Forecast` of `location` (first match)."""
    if not isinstance(body, list) or not body:
        raise ProviderDataError(NAME, "<body>", "expected a non-empty list of forecasts", url)
    locs = [item.get("location") if isinstance(item, dict) else None for item in body]
    i = locs.index(location) if location in locs else 0
    item = body[i]
    path = f"[{i}]"
    points = require(NAME, item, "forecastData", path, list, url)
    frame = records(NAME, points, f"{path}.forecastData", "timestamp", "value", url)
    duration = require(NAME, points[0], "duration", f"{path}.forecastData[0]", int, url)
    if duration <= 0:
        raise ProviderDataError(NAME, f"{path}.forecastData[0].duration",
                                f"must be > 0 minutes, got {duration}", url)
    slots, carbon = to_slot_grid(NAME, frame, slot_minutes, duration * 60,
                                 f"{path}.forecastData[].value")
    issued = None
    if item.get("generatedAt") is not None:
        issued = utc_times(NAME, [item["generatedAt"]], f"{path}.generatedAt", url)[0]
    return Forecast(
        region=location, slot_starts=slots, slot_minutes=slot_minutes,
        carbon_gco2_per_kwh=carbon, curtailment_mw=np.zeros(len(slots)),
        issued_at=None if issued is None else issued.to_pydatetime(), source=NAME,
    )

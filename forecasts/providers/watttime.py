"""WattTime API v3: login → bearer token → `/v3/forecast` per signal type.

- `GET {base}/login` with HTTP basic auth → `{"token": "…"}` (valid ~30 min; on a 401 the
  provider logs in again once and retries).
- `GET {base}/v3/forecast?region=R&signal_type=S` with `Authorization: Bearer …` →
  `{data: [{point_time, value}], meta: {region, signal_type, units, generated_at,
  data_point_period_seconds, …}}`.

Signal types: `co2_moer` (marginal) → `marginal_gco2_per_kwh`; `co2_aoer` (average) →
`carbon_gco2_per_kwh`; `health_damage` ($/MWh) is no carbon signal and is only available
raw through `fetch_signal`. When `co2_aoer` is not requested, `carbon_gco2_per_kwh`
carries the MOER too (WattTime publishes marginal rates first; the `source` string says
so). Values are lbs/MWh and are converted once with `G_PER_KWH_PER_LBS_PER_MWH`; the
5-minute points are averaged onto the slot grid (`_common.to_slot_grid`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from forecasts.forecast import Forecast
from forecasts.providers._common import check_window, clip, records, require, to_slot_grid
from forecasts.providers._common import utc_times as _utc_times
from forecasts.providers.http import HttpClient, HttpConfig, ProviderAuthError, ProviderDataError

NAME = "watttime"

LB_G = 453.59237
"""Grams per avoirdupois pound (exact by definition)."""
G_PER_KWH_PER_LBS_PER_MWH = LB_G / 1000.0
"""1 lb/MWh = 453.59237 g / 1000 kWh = 0.45359237 gCO2/kWh."""

CARBON_SIGNALS = {"co2_moer": "marginal_gco2_per_kwh", "co2_aoer": "carbon_gco2_per_kwh"}
SIGNAL_TYPES = (*CARBON_SIGNALS, "health_damage")
LBS_PER_MWH_UNITS = frozenset({"lbs_co2_per_mwh", "lbs/MWh", "lbs_per_mwh"})


def lbs_per_mwh_to_g_per_kwh(values: np.ndarray) -> np.ndarray:
    """lbs CO2/MWh → gCO2/kWh."""
    return np.asarray(values, dtype=float) * G_PER_KWH_PER_LBS_PER_MWH


@dataclass(frozen=True)
class WattTimeConfig:
    """Credentials, endpoint and signals of the WattTime provider."""

    username: str
    password: str = field(repr=False)
    base_url: str = "https://api.watttime.org"
    signal_types: tuple[str, ...] = ("co2_moer",)
    """Carbon signals to fetch: `co2_moer` and/or `co2_aoer`."""
    slot_minutes: int = 30
    http: HttpConfig = field(default_factory=HttpConfig)

    def __post_init__(self) -> None:
        bad = [s for s in self.signal_types if s not in CARBON_SIGNALS]
        if bad or not self.signal_types:
            raise ValueError(f"WattTimeConfig.signal_types={self.signal_types!r}: carbon "
                             f"signals are {sorted(CARBON_SIGNALS)}")


class WattTimeProvider:
    """`fetch(region, start, end)` → marginal (and average) carbon forecast, gCO2/kWh."""

    name = NAME

    def __init__(self, config: WattTimeConfig, client: HttpClient | None = None) -> None:
        self.config = config
        self.client = client or HttpClient(NAME, config.http)
        self._token: str | None = None

    def login(self) -> str:
        """Basic-auth `GET /login` → bearer token (kept for later calls)."""
        url = f"{self.config.base_url.rstrip('/')}/login"
        body = self.client.get_json(url, auth=(self.config.username, self.config.password))
        self._token = require(NAME, body, "token", "", str, url)
        return self._token

    def fetch_signal(self, region: str, signal_type: str) -> tuple[pd.DataFrame, dict[str, Any]]:
        """Raw forecast points (`time` UTC, `value` in `meta.units`) and the `meta` object."""
        if signal_type not in SIGNAL_TYPES:
            raise ValueError(f"signal_type={signal_type!r}: one of {SIGNAL_TYPES}")
        url = f"{self.config.base_url.rstrip('/')}/v3/forecast"
        params = {"region": region, "signal_type": signal_type}
        token = self._token or self.login()
        try:
            body = self.client.get_json(url, params=params,
                                        headers={"Authorization": f"Bearer {token}"})
        except ProviderAuthError:
            token = self.login()  # expired token: one fresh login, then give up
            body = self.client.get_json(url, params=params,
                                        headers={"Authorization": f"Bearer {token}"})
        meta = require(NAME, body, "meta", "", dict, url)
        frame = records(NAME, require(NAME, body, "data", "", list, url), "data",
                        "point_time", "value", url)
        return frame, meta

    def fetch(self, region: str, start: datetime | None = None,
              end: datetime | None = None) -> Forecast:
        """Forecast for WattTime region `region` (e.g. `CAISO_NORTH`), clipped to the window."""
        check_window(start, end)
        series: dict[str, tuple[pd.DatetimeIndex, np.ndarray]] = {}
        issued = None
        for signal in self.config.signal_types:
            frame, meta = self.fetch_signal(region, signal)
            series[CARBON_SIGNALS[signal]] = to_gco2_slots(frame, meta, self.config.slot_minutes)
            if meta.get("generated_at") is not None:
                issued = _utc_times(NAME, [meta["generated_at"]], "meta.generated_at")[0]
        slots = _common_slots(series)
        cols = {k: pd.Series(v, index=idx).reindex(slots).to_numpy() for k, (idx, v)
                in series.items()}
        marginal = cols.get("marginal_gco2_per_kwh")
        carbon = cols.get("carbon_gco2_per_kwh")
        source = f"{NAME}:{'+'.join(self.config.signal_types)}"
        if carbon is None:
            carbon = marginal
            source += " (carbon = MOER)"
        if carbon is None:  # config validation guarantees at least one carbon signal
            raise ProviderDataError(NAME, "signal_types", "no carbon signal was fetched")
        fc = Forecast(
            region=region, slot_starts=slots, slot_minutes=self.config.slot_minutes,
            carbon_gco2_per_kwh=carbon, curtailment_mw=np.zeros(len(slots)),
            marginal_gco2_per_kwh=marginal,
            issued_at=None if issued is None else issued.to_pydatetime(), source=source,
        )
        return clip(fc, start, end)


def to_gco2_slots(frame: pd.DataFrame, meta: dict[str, Any],
                  slot_minutes: int) -> tuple[pd.DatetimeIndex, np.ndarray]:
    """WattTime points in lbs/MWh → gCO2/kWh on the slot grid (mean of the 5-min points)."""
    units = require(NAME, meta, "units", "meta", str)
    if units not in LBS_PER_MWH_UNITS:
        raise ProviderDataError(NAME, "meta.units", f"unsupported unit {units!r} "
                                f"(expected lbs_co2_per_mwh)")
    period = meta.get("data_point_period_seconds", 300)
    if not isinstance(period, int) or period <= 0:
        raise ProviderDataError(NAME, "meta.data_point_period_seconds",
                                f"expected a positive integer, got {period!r}")
    gframe = frame.assign(value=lbs_per_mwh_to_g_per_kwh(frame["value"].to_numpy()))
    return to_slot_grid(NAME, gframe, slot_minutes, period, "data[].value")


def _common_slots(series: dict[str, tuple[pd.DatetimeIndex, np.ndarray]]) -> pd.DatetimeIndex:
    """Slots every fetched signal covers (intersection); empty → `ProviderDataError`."""
    slots: pd.DatetimeIndex | None = None
    for idx, _ in series.values():
        slots = idx if slots is None else slots.intersection(idx)
    if slots is None or len(slots) == 0:
        raise ProviderDataError(NAME, "data", "the signals share no time slot")
    return slots

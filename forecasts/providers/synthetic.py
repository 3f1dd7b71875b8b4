"""Synthetic area grids as a provider: no network, deterministic per seed (`synthetic.grid`).

The simulator's embedded default. Whole JST days are generated around the asked window and
clipped to it; without `end`, `days` days from the JST midnight before `start` are returned.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

import pandas as pd

from forecasts.forecast import Forecast
from forecasts.providers._common import check_window, clip
from forecasts.synthetic.grid import synthetic_forecast
from inputs.clock import utc_now

NAME = "synthetic"


@dataclass(frozen=True)
class SyntheticConfig:
    """Seed, slot length (15, 30 or 60 minutes) and default length in days."""

    seed: int = 0
    slot_minutes: int = 30
    days: int = 2


class SyntheticProvider:
    """`fetch(area, start, end)` → synthetic carbon (gCO2/kWh) and curtailment (MW) of `area`."""

    name = NAME

    def __init__(self, config: SyntheticConfig) -> None:
        self.config = config

    def fetch(self, region: str, start: datetime | None = None,
              end: datetime | None = None) -> Forecast:
        """Signals of Japanese area `region` (e.g. `kyushu`) over `[start, end)`."""
        check_window(start, end)
        first = pd.Timestamp(start or utc_now()).tz_convert("Asia/Tokyo").normalize()
        days = self.config.days if end is None else math.ceil(
            (pd.Timestamp(end) - first) / pd.Timedelta(days=1))
        fc = synthetic_forecast(region, first.tz_convert("UTC").to_pydatetime(), days,
                                self.config.slot_minutes, self.config.seed)
        return clip(fc, start, end)

"""Small builders shared by the core tests."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from forecasts.forecast import Forecast
from policies.job import Job, Latency
from policies.site import PueModel, Site

T0 = pd.Timestamp("2026-05-03T00:00:00Z")


def at(slot: float, slot_minutes: int = 60) -> pd.Timestamp:
    """Time of a slot boundary (UTC)."""
    return T0 + pd.Timedelta(minutes=slot * slot_minutes)


def site(sid: str, region: str, gpus: int = 8, cap_kw: float = 100.0, pue: float = 1.2,
         share: float = 0.0, home: bool = False, residency: Sequence[str] = ()) -> Site:
    return Site(id=sid, region=region, gpus=gpus, power_cap_kw=cap_kw, pue=PueModel(pue),
                curtailment_share=share, residency=tuple(residency), home=home)


def job(jid: str, gpus: int, dur_slots: float, release: float, deadline: float,
        kw: float = 1.0, ckpt: bool = False, critical: bool = False,
        allowed: Sequence[str] = (), home: str | None = None, slot_minutes: int = 60) -> Job:
    return Job(id=jid, gpus=gpus, kw_per_gpu=kw, duration_h=dur_slots * slot_minutes / 60,
               release=at(release, slot_minutes).to_pydatetime(),
               deadline=at(deadline, slot_minutes).to_pydatetime(),
               latency=Latency.CRITICAL if critical else Latency.TOLERANT,
               allowed_sites=tuple(allowed), home_site=home, checkpointable=ckpt)


def forecast(region: str, carbon: Sequence[float], curtailment_mw: Sequence[float] | None = None,
             price: Sequence[float] | None = None, slot_minutes: int = 60) -> Forecast:
    n = len(carbon)
    return Forecast(region=region,
                    slot_starts=pd.date_range(T0, periods=n, freq=f"{slot_minutes}min"),
                    slot_minutes=slot_minutes, carbon_gco2_per_kwh=np.asarray(carbon, float),
                    curtailment_mw=np.zeros(n) if curtailment_mw is None
                    else np.asarray(curtailment_mw, float),
                    price_jpy_per_kwh=None if price is None else np.asarray(price, float))

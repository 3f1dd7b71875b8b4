"""Random but realistic planning instances (sites, jobs, forecasts) for tests and benchmarks.

Forecast shapes follow the reference areas: curtailment-prone areas (Kyushu, Chugoku) are
coal-heavy at night and curtail solar around noon; Tokyo is LNG-heavy and never curtails.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd

from forecasts.forecast import Forecast
from policies.job import Job, Latency
from policies.site import PueModel, Site

# region: (night gCO2/kWh, noon dip gCO2/kWh, peak curtailment MW)
REGIONS = {
    "chugoku": (620.0, 380.0, 900.0),
    "kyushu": (520.0, 250.0, 2500.0),
    "tokyo": (470.0, 420.0, 0.0),
    "kansai": (430.0, 360.0, 0.0),
    "tohoku": (500.0, 330.0, 300.0),
    "hokkaido": (560.0, 420.0, 100.0),
    "shikoku": (480.0, 300.0, 400.0),
    "chubu": (460.0, 390.0, 0.0),
}


@dataclass(frozen=True)
class Instance:
    """Sites, jobs and one forecast per region."""

    sites: list[Site]
    jobs: list[Job]
    forecasts: dict[str, Forecast]


def synthetic_forecasts(regions: list[str], start: pd.Timestamp, n_slots: int,
                        slot_minutes: int, rng: np.random.Generator) -> dict[str, Forecast]:
    """Diurnal carbon and curtailment per region (solar noon ≈ 03:00 UTC in Japan)."""
    idx = pd.date_range(start, periods=n_slots, freq=f"{slot_minutes}min", tz="UTC")
    hour_jst = ((idx.hour + idx.minute / 60.0 + 9.0) % 24).to_numpy()
    sun = np.clip(np.cos((hour_jst - 12.0) / 12.0 * np.pi) * 1.6 - 0.6, 0.0, 1.0)
    out = {}
    for r in regions:
        night, noon, curt = REGIONS[r]
        noise = rng.normal(0.0, 0.03, n_slots)
        carbon = (night - (night - noon) * sun) * (1.0 + noise)
        curtailment = np.clip(curt * (sun - 0.5) * 2.0 * rng.uniform(0.6, 1.2), 0.0, None)
        price = 12.0 + 6.0 * (1.0 - sun) + rng.normal(0.0, 0.5, n_slots)
        out[r] = Forecast(region=r, slot_starts=idx, slot_minutes=slot_minutes,
                          carbon_gco2_per_kwh=carbon, curtailment_mw=curtailment,
                          price_jpy_per_kwh=np.maximum(price, 0.01), source="instances")
    return out


def random_instance(n_jobs: int, n_sites: int = 8, n_slots: int = 96, slot_minutes: int = 15,
                    seed: int = 0, checkpointable_share: float = 0.1,
                    load_factor: float = 0.6) -> Instance:
    """An instance whose total GPU-hours are about `load_factor` of fleet capacity."""
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2026-05-03T00:00:00Z")
    regions = list(REGIONS)[: min(n_sites, len(REGIONS))]
    slot_h = slot_minutes / 60.0
    gpus_choices = np.array([1, 2, 4, 8])
    job_gpus = rng.choice(gpus_choices, size=n_jobs, p=[0.3, 0.3, 0.25, 0.15])
    dur_slots = rng.choice(np.arange(1, max(2, n_slots // 3)), size=n_jobs)
    gpu_slots = float((job_gpus * dur_slots).sum())
    fleet_gpus = max(int(gpu_slots / (n_slots * load_factor)), 8 * n_sites)
    weights = rng.uniform(0.5, 1.5, n_sites)
    site_gpus = np.maximum(8, np.round(fleet_gpus * weights / weights.sum())).astype(int)
    sites = [
        Site(id=f"dc{i}-{regions[i % len(regions)]}", region=regions[i % len(regions)],
             gpus=int(site_gpus[i]), power_cap_kw=float(site_gpus[i]) * 1.0 * 1.45,
             pue=PueModel(base=float(rng.uniform(1.2, 1.45))),
             curtailment_share=float(rng.uniform(0.005, 0.03)), residency=("jp",),
             home=(i == 0))
        for i in range(n_sites)
    ]
    release = rng.integers(0, max(1, n_slots // 2), size=n_jobs)
    release = np.minimum(release, n_slots - dur_slots)
    slack = rng.integers(0, n_slots, size=n_jobs)
    deadline = np.minimum(n_slots, release + dur_slots + slack)
    kw = rng.choice([0.7, 0.85, 1.0], size=n_jobs)
    critical = rng.random(n_jobs) < 0.05
    ckpt = rng.random(n_jobs) < checkpointable_share
    t0 = start.to_pydatetime()

    def at(slot: int) -> datetime:
        return t0 + pd.Timedelta(hours=float(slot) * slot_h).to_pytimedelta()

    jobs = [
        Job(id=f"job-{j:05d}", gpus=int(job_gpus[j]), kw_per_gpu=float(kw[j]),
            duration_h=float(dur_slots[j]) * slot_h, release=at(int(release[j])),
            deadline=at(int(deadline[j])),
            latency=Latency.CRITICAL if critical[j] else Latency.TOLERANT,
            home_site=sites[int(rng.integers(0, n_sites))].id,
            checkpointable=bool(ckpt[j] and not critical[j]))
        for j in range(n_jobs)
    ]
    return Instance(sites, jobs, synthetic_forecasts(regions, start, n_slots, slot_minutes, rng))

"""`Job`: one unit of latency-tolerant (or latency-critical) AI work."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Latency(StrEnum):
    """Latency class: only `tolerant` jobs may move away from their home site."""

    TOLERANT = "tolerant"
    CRITICAL = "critical"


@dataclass(frozen=True)
class Job:
    """A job: GPUs × kW per GPU for `duration_h`, inside [release, deadline]."""

    id: str
    gpus: int
    kw_per_gpu: float
    """IT power per GPU while running, kW (server share included)."""
    duration_h: float
    """Run time without interruptions, hours."""
    release: datetime
    """Earliest start, tz-aware UTC."""
    deadline: datetime
    """Latest finish, tz-aware UTC."""
    latency: Latency = Latency.TOLERANT
    allowed_sites: tuple[str, ...] = ()
    """Site ids or residency tags the job may run on; empty = any."""
    home_site: str | None = None
    checkpointable: bool = False
    """May run in pieces (per-slot schedule) at a restart overhead per resume."""
    running_site: str | None = None
    """Site the job is running on at the planning time (`site` in jobs.csv); None = pending."""
    done_h: float = 0.0
    """Hours of work already done (0 ≤ done_h < duration_h); only the rest is planned."""

    @property
    def remaining_h(self) -> float:
        """Hours of work still to do."""
        return self.duration_h - self.done_h

    @property
    def it_kw(self) -> float:
        """IT power while running, kW."""
        return self.gpus * self.kw_per_gpu

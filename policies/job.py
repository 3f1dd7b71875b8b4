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

    @property
    def it_kw(self) -> float:
        """IT power while running, kW."""
        return self.gpus * self.kw_per_gpu

"""What a simulation produces: per-slot, per-job and per-policy tables (the public columns).

All times are tz-aware UTC; energy kWh, power kW, emissions kg-CO2, money JPY. A value
that could not be known (no price in the signals) is NaN, never 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

SUMMARY_COLUMNS = ("policy", "kg_co2_location", "kg_co2_market", "curtailment_absorbed_mwh",
                   "cost_jpy", "deadline_misses", "mean_delay_h", "p95_delay_h",
                   "planner_seconds", "share_of_oracle_saving")
"""`summary.csv`, exactly these columns, one row per policy (the public contract)."""

SLOT_COLUMNS = ("policy", "slot_start", "site", "region", "it_kw", "facility_kw",
                "facility_kwh", "zero_carbon_kwh", "kg_co2_location", "kg_co2_market",
                "cost_jpy", "carbon_gco2_per_kwh", "curtailment_mw", "pue")
"""Per policy, site and slot: the load run and its accounting on the actual signals."""

JOB_COLUMNS = ("policy", "job_id", "sites", "release", "deadline", "start", "end",
               "delay_h", "late", "done_h", "pieces", "migrations")
"""Per policy and job: where (sites run on, `|`-separated, in order), when (first start,
last end; NaT when never started), delay (start − release, hours), whether it missed its
deadline (or never finished), work done (hours), pieces run and site changes."""

SITE_COLUMNS = ("policy", "site", "pue", "gec", "iteu", "facility_mwh", "it_mwh")
"""Per policy and site, the ISO/IEC 30134 indicators: PUE as modelled (facility / IT
energy), GEC (zero-carbon share of facility energy: absorbed curtailment and renewable
certificates), ITEU (IT energy used / IT energy the site's GPUs could use)."""


@dataclass
class SimulationResult:
    """The outcome of one scenario: every policy's tables, in one frame each."""

    scenario: dict[str, Any]
    """The scenario as run (plain YAML-able values)."""
    summary: pd.DataFrame
    """`SUMMARY_COLUMNS`."""
    slots: pd.DataFrame
    """`SLOT_COLUMNS`."""
    jobs: pd.DataFrame
    """`JOB_COLUMNS`."""
    sites: pd.DataFrame
    """`SITE_COLUMNS`."""
    timings_s: dict[str, float] = field(default_factory=dict)
    """Seconds by phase: planning, forecasting, accounting, io."""

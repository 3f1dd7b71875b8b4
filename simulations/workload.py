"""Synthetic AI-job workload calibrated to public GPU-cluster traces.

Arrivals are a non-homogeneous Poisson process (thinning) with a diurnal and a weekly
pattern in Japan time (Asia/Tokyo, UTC+9 all year: Japan has no daylight saving time).
Each job gets a clipped-lognormal run time, a GPU count, a latency class, a checkpointable
flag, a deadline with slack and optionally a home site.

The defaults describe the GPU jobs that run at least 1 h (so ≥ 1 GPU-hour): the jobs a
carbon-aware planner can usefully move. Traces are dominated by jobs of minutes (median
GPU-job run time 206 s in Helios, 874 s in Philly), which no slot-based planner shifts.
The figures below were computed once from the public files described in the project's
shared `data/traces/SOURCES.md`; the files are not read at run time.

- Run time. `philly_runtime.csv` (Philly, 83,154 task run times): 19,703 tasks (23.7 %)
  run ≥ 1 h; their median is 2.787 h, their 95th percentile 69.6 h, 1.5 % run > 168 h,
  and their mean with run times capped at 168 h is 13.79 h. A lognormal with that median
  and σ = 1.96, clipped to [1 h, 168 h], has the same capped mean (13.79 h) and the same
  95th percentile. Its lower tail is clipped onto 1 h (about 32 % of jobs run exactly 1 h;
  the trace's 25th percentile is 1.53 h).
- GPUs per job. `helios_cluster_summary.csv`, total: median 1, mean 3.716 GPUs over
  1,580,464 GPU jobs. `Earth_vcs/vc6YE/cluster_sequence_vc.csv` (May 2020): running jobs
  of ≥ 8 GPUs hold 17.89 GPUs each on average, jobs of < 8 GPUs 1.038. The weights put
  15.9 % of jobs at ≥ 8 GPUs (geometric over 8–64, ratio 0.531, mean 17.89) and the rest
  on 1 GPU with 0.94 % each on 2 and 4 GPUs (mean 1.038), so that the overall mean is
  3.716 and the median 1. The run time is drawn independently of the GPU count: 3.716 GPUs
  × 13.7 h ≈ 51 GPU-hours per job, close to Helios's total GPU time (7.80e10 GPU-s) over
  its GPU jobs that run ≥ 1 h (1,580,464 × 23.7 %, the Philly share), 58 GPU-hours.
  The Alibaba 2023 pods (`openb_pod_list_default.csv`) are not used: 99 % of their GPU pods
  ask for ≤ 1 GPU, mostly a fraction of one (inference serving, not training).
- Power. `acme_utilization_cdf_quantiles.csv` (Seren, 8 × A100 per GPU server): 31.5 % of
  GPU samples are idle (0 % utilisation); the mean `Sys_Total_Power` of the other 68.5 % of
  GPU-server samples is 3,548 W, i.e. 0.44 kW per GPU with the server's share (per-GPU
  DCGM power of the busy samples 217 W plus the server's non-GPU power 1,582 W / 8 agree:
  0.41 kW). The shares are matched by quantile rank, an approximation.
- Daily and weekly rhythm. `cluster_sequence_vc.csv` (vc6YE, per minute, local time
  UTC+8; the rise of `total_gpujob_num` stands in for GPU-job arrivals): the first harmonic
  of the hourly arrival profile has amplitude 0.85 (0.78 with bursts capped at one job per
  minute) and peaks at 18.2 h local; weekend days (7) had 0.66 × the arrivals of working
  days (19) in 6–31 May 2020 (1–5 May holidays dropped, Saturday 9 May a working day).
  The peak is applied at the same local hour in Japan (a working-day rhythm, not a clock).
- Latency-critical share 0.2: DOMAIN.md (one automaker moved 80 % of its computing and kept
  the latency-critical 20 % at home). Checkpointable share and slack are assumptions (the
  traces hold no deadlines): 30 % of tolerant jobs checkpoint; a tolerant job may finish
  1–3 run times after its earliest possible end, a critical one 0.25 run times.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from inputs.errors import InputError
from inputs.yaml_file import number
from policies.job import Job, Latency

CRITICAL_SLACK_FACTOR = 0.25
"""Slack of a latency-critical job: deadline = release + duration × (1 + 0.25)."""
JST_OFFSET_H = 9.0
"""Asia/Tokyo is UTC+9 all year."""
MAX_EXPECTED_JOBS = 2_000_000
"""`generate_jobs` refuses periods whose expected job count exceeds this (memory)."""


@dataclass(frozen=True)
class WorkloadConfig:
    """Parameters of the synthetic workload; defaults from public traces (module docstring)."""

    jobs_per_day: float = 120.0
    """Mean arrivals per day over a week. 120 ≈ `jobs_per_day_for(0.5, 512)`: two sites of
    256 GPUs half busy (a month ≈ 3,600 jobs); scale it with `jobs_per_day_for`."""
    duration_median_h: float = 2.79
    """Median run time, hours (Philly tasks of ≥ 1 h: 2.787 h)."""
    duration_sigma: float = 1.96
    """Lognormal shape σ of the run time (natural log; fit to the capped mean 13.79 h)."""
    duration_min_h: float = 1.0
    """Shortest run time, hours (run times below are clipped up to it)."""
    duration_max_h: float = 168.0
    """Longest run time, hours (one week; 1.5 % of Philly tasks ≥ 1 h run longer)."""
    gpus_choices: tuple[int, ...] = (1, 2, 4, 8, 16, 32, 64)
    """GPU counts a job may ask for."""
    gpus_weights: tuple[float, ...] = (0.825, 0.008, 0.008, 0.081, 0.043, 0.023, 0.012)
    """Relative frequency of each GPU count (Helios mean 3.716, median 1; vc6YE split)."""
    kw_per_gpu: float = 0.44
    """IT power per GPU while running, kW, server share included (Acme Seren busy A100)."""
    critical_share: float = 0.2
    """Fraction (0–1) of jobs that are latency-critical."""
    checkpointable_share: float = 0.3
    """Fraction (0–1) of latency-tolerant jobs that can checkpoint (critical ones never)."""
    slack_factor_min: float = 1.0
    """Tolerant jobs: deadline = release + duration × (1 + U(min, max))."""
    slack_factor_max: float = 3.0
    """Upper end of the slack factor of tolerant jobs."""
    diurnal_amplitude: float = 0.8
    """a in the arrival-rate multiplier 1 + a·cos(2π(hour_jst − peak_hour_jst)/24), 0–1."""
    peak_hour_jst: float = 18.0
    """Hour of day (JST, 0–24) of the most arrivals."""
    weekend_factor: float = 0.65
    """Arrival rate on Saturday and Sunday (JST) relative to working days, ≥ 0."""
    home_sites: tuple[str, ...] = ()
    """Each job's home site is drawn uniformly from these; empty = jobs name none."""
    id_prefix: str = "job"
    """Job ids are `{id_prefix}-{i:05d}`, i = 0, 1, … in arrival order."""


_FIELDS = tuple(f.name for f in fields(WorkloadConfig))
# field: (lo, hi, lo_open) for the plain numbers; bounds inclusive unless lo_open
_NUMBERS: dict[str, tuple[float, float | None, bool]] = {
    "jobs_per_day": (0.0, 1e6, True),
    "duration_median_h": (0.0, 1e5, True),
    "duration_sigma": (0.0, 5.0, False),
    "duration_min_h": (0.0, 1e5, True),
    "duration_max_h": (0.0, 1e5, True),
    "kw_per_gpu": (0.0, 100.0, True),
    "critical_share": (0.0, 1.0, False),
    "checkpointable_share": (0.0, 1.0, False),
    "slack_factor_min": (0.0, 1e3, False),
    "slack_factor_max": (0.0, 1e3, False),
    "diurnal_amplitude": (0.0, 1.0, False),
    "peak_hour_jst": (0.0, 24.0, False),
    "weekend_factor": (0.0, 1e3, False),
}


def parse_generator(src: str, doc: object) -> WorkloadConfig:
    """The `workload.generator` mapping of a scenario file → a checked `WorkloadConfig`.

    Missing keys take the defaults. Errors are `InputError(src, "workload.generator.<key>",
    value, problem)`. `gpus_choices` without `gpus_weights` gets equal weights.
    """
    prefix = "workload.generator"
    if not isinstance(doc, Mapping):
        raise InputError(src, prefix, doc, "must be a mapping of generator settings")
    for key in doc:
        if key not in _FIELDS:
            raise InputError(src, f"{prefix}.{key}", doc[key],
                             f"unknown setting; known: {', '.join(_FIELDS)}")
    values = asdict(WorkloadConfig())
    values.update(doc)
    if "gpus_choices" in doc and "gpus_weights" not in doc:
        choices = doc["gpus_choices"]
        values["gpus_weights"] = [1.0] * (len(choices) if isinstance(choices, list) else 0)
    return _checked(src, f"{prefix}.", values)


def as_mapping(cfg: WorkloadConfig) -> dict[str, Any]:
    """The YAML form of `cfg` (lists, not tuples) that `parse_generator` reads back."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(cfg).items()}


def _checked(src: str, prefix: str, values: Mapping[str, Any]) -> WorkloadConfig:
    """Check every setting (types, ranges, cross-field rules); return a normalised config."""
    out: dict[str, Any] = {}
    for name, (lo, hi, lo_open) in _NUMBERS.items():
        out[name] = number(src, prefix + name, values[name], lo=lo, hi=hi, lo_open=lo_open)
    if out["duration_min_h"] > out["duration_max_h"]:
        raise InputError(src, prefix + "duration_min_h", values["duration_min_h"],
                         f"must be ≤ duration_max_h ({out['duration_max_h']:g})")
    if out["slack_factor_min"] > out["slack_factor_max"]:
        raise InputError(src, prefix + "slack_factor_min", values["slack_factor_min"],
                         f"must be ≤ slack_factor_max ({out['slack_factor_max']:g})")
    choices = _sequence(src, prefix + "gpus_choices", values["gpus_choices"])
    out["gpus_choices"] = tuple(
        int(number(src, f"{prefix}gpus_choices[{i}]", c, lo=1, hi=1e5, integer=True))
        for i, c in enumerate(choices))
    if len(set(out["gpus_choices"])) != len(choices):
        raise InputError(src, prefix + "gpus_choices", values["gpus_choices"],
                         "has a GPU count twice")
    weights = _sequence(src, prefix + "gpus_weights", values["gpus_weights"])
    out["gpus_weights"] = tuple(number(src, f"{prefix}gpus_weights[{i}]", w, lo=0.0, hi=1e9)
                                for i, w in enumerate(weights))
    if len(weights) != len(choices):
        raise InputError(src, prefix + "gpus_weights", values["gpus_weights"],
                         f"must have one weight per GPU count ({len(choices)})")
    if sum(out["gpus_weights"]) <= 0.0:
        raise InputError(src, prefix + "gpus_weights", values["gpus_weights"],
                         "must not all be 0")
    homes = values["home_sites"]
    if isinstance(homes, str) or not isinstance(homes, list | tuple) or not all(
            isinstance(h, str) and h.strip() for h in homes):
        raise InputError(src, prefix + "home_sites", homes,
                         "must be a list of site ids (may be empty)")
    if len(set(homes)) != len(homes):
        raise InputError(src, prefix + "home_sites", homes, "names a site twice")
    out["home_sites"] = tuple(homes)
    prefix_id = values["id_prefix"]
    if not isinstance(prefix_id, str) or not prefix_id or prefix_id != prefix_id.strip():
        raise InputError(src, prefix + "id_prefix", prefix_id,
                         "must be a non-empty string without surrounding spaces")
    out["id_prefix"] = prefix_id
    return WorkloadConfig(**out)


def _sequence(src: str, field: str, value: Any) -> list[Any]:
    if isinstance(value, str) or not isinstance(value, list | tuple) or not value:
        raise InputError(src, field, value, "must be a non-empty list")
    return list(value)


def _phi(z: float) -> float:
    """Standard normal CDF."""
    return 0.5 * math.erfc(-z / math.sqrt(2.0))


def expected_duration_h(cfg: WorkloadConfig) -> float:
    """Mean run time of the clipped lognormal, hours (the 0.25-h rounding is ignored)."""
    a, b, s = cfg.duration_min_h, cfg.duration_max_h, cfg.duration_sigma
    mu = math.log(cfg.duration_median_h)
    if s == 0.0:
        return min(max(cfg.duration_median_h, a), b)
    za, zb = (math.log(a) - mu) / s, (math.log(b) - mu) / s
    middle = math.exp(mu + s * s / 2.0) * (_phi(zb - s) - _phi(za - s))
    return a * _phi(za) + middle + b * (1.0 - _phi(zb))


def expected_gpus(cfg: WorkloadConfig) -> float:
    """Mean GPUs per job."""
    w = np.asarray(cfg.gpus_weights, dtype=float)
    return float(np.dot(cfg.gpus_choices, w) / w.sum())


def jobs_per_day_for(load_factor: float, fleet_gpus: int,
                     cfg: WorkloadConfig | None = None) -> float:
    """Arrivals per day whose expected GPU-hours per day are load_factor × fleet_gpus × 24.

    Uses the job shape of `cfg` (default `WorkloadConfig()`); `load_factor` is a fraction
    of the fleet's GPU-hours (0.5 = half busy on average, before any queueing).
    """
    cfg = cfg or WorkloadConfig()
    lf = number("jobs_per_day_for", "load_factor", load_factor, lo=0.0, lo_open=True)
    gpus = number("jobs_per_day_for", "fleet_gpus", fleet_gpus, lo=1, integer=True)
    return lf * gpus * 24.0 / (expected_gpus(cfg) * expected_duration_h(cfg))


def _utc(name: str, t: Any) -> datetime:
    if not isinstance(t, datetime) or t.tzinfo is None or t.utcoffset() is None:
        raise InputError("generate_jobs", name, t, "must be a tz-aware datetime")
    return datetime.fromtimestamp(t.timestamp(), tz=UTC)


def _rate_multiplier(cfg: WorkloadConfig, epoch_s: np.ndarray) -> np.ndarray:
    """Arrival-rate multiplier at UTC epoch seconds (mean 1 over a whole JST week)."""
    jst_s = epoch_s + JST_OFFSET_H * 3600.0
    hour = (jst_s % 86400.0) / 3600.0
    weekday = (np.floor(jst_s / 86400.0).astype(np.int64) + 3) % 7  # 1970-01-01: Thursday
    day = 1.0 + cfg.diurnal_amplitude * np.cos(2.0 * np.pi * (hour - cfg.peak_hour_jst) / 24.0)
    week = np.where(weekday >= 5, cfg.weekend_factor, 1.0) * 7.0 / (5.0 + 2.0 * cfg.weekend_factor)
    return day * week


def generate_jobs(cfg: WorkloadConfig, start: datetime, end: datetime, seed: int) -> list[Job]:
    """Jobs arriving in [start, end), in arrival order; same arguments → same list.

    `start`/`end` must be tz-aware. Release = arrival time rounded down to the minute
    (tz-aware UTC, never before `start`); duration in hours, a multiple of 0.25 h and
    ≥ `duration_min_h`; deadline = release + duration × (1 + slack factor), rounded up
    to the minute.
    """
    cfg = _checked("WorkloadConfig", "", asdict(cfg))
    t0, t1 = _utc("start", start), _utc("end", end)
    if t1 < t0:
        raise InputError("generate_jobs", "end", end, f"must not be before start ({start})")
    span_s = (t1 - t0).total_seconds()
    rng = np.random.default_rng(seed)
    w = cfg.weekend_factor
    peak_mult = (1.0 + cfg.diurnal_amplitude) * max(1.0, w) * 7.0 / (5.0 + 2.0 * w)
    lam_max_per_s = cfg.jobs_per_day / 86400.0 * peak_mult
    if lam_max_per_s * span_s > MAX_EXPECTED_JOBS:
        raise InputError("generate_jobs", "end", end,
                         f"too many jobs (> {MAX_EXPECTED_JOBS:,} expected); shorten the period")
    n = int(rng.poisson(lam_max_per_s * span_s))
    epoch_s = t0.timestamp() + np.sort(rng.uniform(0.0, span_s, n))
    accept = rng.uniform(0.0, 1.0, n) * peak_mult < _rate_multiplier(cfg, epoch_s)
    epoch_s = epoch_s[accept & (epoch_s < t1.timestamp())]
    m = len(epoch_s)

    mu = math.log(cfg.duration_median_h)
    raw_h = np.clip(np.exp(rng.normal(mu, cfg.duration_sigma, m)),
                    cfg.duration_min_h, cfg.duration_max_h)
    duration_h = np.maximum(np.round(raw_h * 4.0) / 4.0, math.ceil(cfg.duration_min_h * 4.0) / 4.0)
    p = np.asarray(cfg.gpus_weights, dtype=float)
    gpus = rng.choice(np.asarray(cfg.gpus_choices), size=m, p=p / p.sum())
    critical = rng.uniform(0.0, 1.0, m) < cfg.critical_share
    checkpointable = (rng.uniform(0.0, 1.0, m) < cfg.checkpointable_share) & ~critical
    slack = np.where(critical, CRITICAL_SLACK_FACTOR,
                     rng.uniform(cfg.slack_factor_min, cfg.slack_factor_max, m))
    window_min = np.ceil(duration_h * (1.0 + slack) * 60.0)
    home = (rng.integers(0, len(cfg.home_sites), m) if cfg.home_sites
            else np.zeros(m, dtype=np.int64))

    jobs = []
    for i in range(m):
        release = max(datetime.fromtimestamp(float(epoch_s[i] // 60.0 * 60.0), tz=UTC), t0)
        jobs.append(Job(
            id=f"{cfg.id_prefix}-{i:05d}", gpus=int(gpus[i]), kw_per_gpu=cfg.kw_per_gpu,
            duration_h=float(duration_h[i]), release=release,
            deadline=release + timedelta(minutes=float(window_min[i])),
            latency=Latency.CRITICAL if critical[i] else Latency.TOLERANT,
            home_site=cfg.home_sites[int(home[i])] if cfg.home_sites else None,
            checkpointable=bool(checkpointable[i])))
    return jobs

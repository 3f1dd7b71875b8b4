"""Read `jobs.csv`: `id, gpus, kw_per_gpu, duration_h, release, deadline, latency,
allowed_sites, home_site, checkpointable, site, done_h` (times ISO 8601 with offset;
`site` and `done_h` describe a job already running at the planning time)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from inputs.errors import InputError
from inputs.tables import parse_times, read_string_csv
from policies.job import Job, Latency

COLUMNS = ("id", "gpus", "kw_per_gpu", "duration_h", "release", "deadline", "latency",
           "allowed_sites", "home_site", "checkpointable", "site", "done_h")
OPTIONAL = {"latency": "tolerant", "allowed_sites": "", "home_site": "", "checkpointable": "false",
            "site": "", "done_h": "0"}
TRUE = {"true", "1", "yes"}
FALSE = {"false", "0", "no", ""}


def _numbers(src: str, df: pd.DataFrame, col: str, *, integer: bool) -> np.ndarray:
    vals = pd.to_numeric(df[col].str.strip(), errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(vals) | (vals <= 0)
    if integer:
        bad |= vals != np.round(vals)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        kind = "a whole number > 0" if integer else "a number > 0"
        raise InputError(f"{src} row {i + 2} (job {df['id'].iloc[i]})", col, df[col].iloc[i],
                         f"must be {kind}")
    return vals


def read_jobs_csv(path: str | Path) -> list[Job]:
    """Read jobs.csv into `Job`s; every bad cell is reported with its row and column."""
    src = str(path)
    df = read_string_csv(path)
    missing = [c for c in COLUMNS if c not in df.columns and c not in OPTIONAL]
    if missing:
        raise InputError(src, "columns", list(df.columns), f"missing {', '.join(missing)}")
    for col, default in OPTIONAL.items():
        if col not in df.columns:
            df[col] = default
    if df.empty:
        raise InputError(src, "rows", 0, "no jobs")
    ids = df["id"].str.strip()
    if (ids == "").any():
        raise InputError(f"{src} row {int(np.flatnonzero(ids == '')[0]) + 2}", "id", "",
                         "must not be empty")
    if ids.duplicated().any():
        raise InputError(src, "id", ids[ids.duplicated()].iloc[0], "duplicate job id")
    gpus = _numbers(src, df, "gpus", integer=True)
    kw = _numbers(src, df, "kw_per_gpu", integer=False)
    dur = _numbers(src, df, "duration_h", integer=False)
    release = parse_times(src, "release", df["release"])
    deadline = parse_times(src, "deadline", df["deadline"])
    early = (deadline <= release).to_numpy()
    if early.any():
        i = int(np.flatnonzero(early)[0])
        raise InputError(f"{src} row {i + 2} (job {ids.iloc[i]})", "deadline",
                         df["deadline"].iloc[i], f"is not after release {df['release'].iloc[i]}")
    latency = df["latency"].str.strip().str.lower().replace("", "tolerant")
    bad_lat = ~latency.isin([m.value for m in Latency])
    if bad_lat.any():
        i = int(np.flatnonzero(bad_lat.to_numpy())[0])
        raise InputError(f"{src} row {i + 2} (job {ids.iloc[i]})", "latency",
                         df["latency"].iloc[i], "must be tolerant or critical")
    ckpt = df["checkpointable"].str.strip().str.lower()
    bad_ck = ~ckpt.isin(TRUE | FALSE)
    if bad_ck.any():
        i = int(np.flatnonzero(bad_ck.to_numpy())[0])
        raise InputError(f"{src} row {i + 2} (job {ids.iloc[i]})", "checkpointable",
                         df["checkpointable"].iloc[i], "must be true or false")
    done = _done_hours(src, df, ids, dur)
    jobs = []
    for i in range(len(df)):
        allowed = tuple(t.strip() for t in df["allowed_sites"].iloc[i].split(";") if t.strip())
        home = df["home_site"].iloc[i].strip() or None
        jobs.append(Job(
            id=ids.iloc[i], gpus=int(gpus[i]), kw_per_gpu=float(kw[i]), duration_h=float(dur[i]),
            release=release.iloc[i].to_pydatetime(), deadline=deadline.iloc[i].to_pydatetime(),
            latency=Latency(latency.iloc[i]), allowed_sites=allowed, home_site=home,
            checkpointable=ckpt.iloc[i] in TRUE,
            running_site=df["site"].iloc[i].strip() or None, done_h=float(done[i]),
        ))
    return jobs


def _done_hours(src: str, df: pd.DataFrame, ids: pd.Series, duration_h: np.ndarray
                ) -> np.ndarray:
    """`done_h` per row: 0 ≤ done_h < duration_h (empty = 0)."""
    text = df["done_h"].str.strip().replace("", "0")
    done = pd.to_numeric(text, errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(done) | (done < 0) | (done >= duration_h)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(f"{src} row {i + 2} (job {ids.iloc[i]})", "done_h", df["done_h"].iloc[i],
                         f"must be a number with 0 ≤ done_h < duration_h ({duration_h[i]:g})")
    return done


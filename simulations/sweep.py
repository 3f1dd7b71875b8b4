"""Parameter sweeps: one scenario, every combination of some of its values, in parallel.

`--param sites.matsue.gpus=256,512,1024 --param forecast.model=perfect,model` runs the
6 combinations in local worker processes, or as Ray tasks on a cluster when an address is
given (Ray is an optional extra: `pip install 'wattbit[ray]'`). Each combination is the
scenario with those values replaced (`scenario.with_value`), validated like any scenario.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from inputs.errors import InputError
from simulations.engine import simulate
from simulations.results import SUMMARY_COLUMNS
from simulations.scenario import load_scenario


def parse_params(params: Sequence[str]) -> dict[str, list[Any]]:
    """`key=v1,v2,…` options → key → values (each value read as YAML: numbers, words)."""
    out: dict[str, list[Any]] = {}
    for raw in params:
        key, sep, values = raw.partition("=")
        if not sep or not key or not values:
            raise InputError("--param", "param", raw, "must look like key.path=v1,v2")
        out[key] = [yaml.safe_load(v) for v in values.split(",")]
    return out


def combinations(params: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """Every combination of the parameters' values, in the order given."""
    keys = list(params)
    return [dict(zip(keys, combo, strict=True))
            for combo in itertools.product(*(params[k] for k in keys))]


def run_one(scenario: str, overrides: dict[str, Any]) -> pd.DataFrame:
    """The summary of one combination, with its parameter values as leading columns."""
    result = simulate(load_scenario(scenario, overrides))
    frame = result.summary.copy()
    for i, (key, value) in enumerate(overrides.items()):
        frame.insert(i, key, value)
    return frame


def sweep(scenario: str | Path, params: dict[str, list[Any]], workers: int = 2,
          address: str | None = None,
          done: Callable[[int, int], None] | None = None) -> pd.DataFrame:
    """All combinations' summaries in one table (parameter columns, then `SUMMARY_COLUMNS`).
    Every combination is validated before any runs, so a bad value fails fast."""
    combos = combinations(params)
    for combo in combos:
        load_scenario(scenario, combo)
    name = str(scenario)
    if address is not None:
        frames = _on_ray(name, combos, address)
    elif workers <= 1 or len(combos) == 1:
        frames = []
        for k, combo in enumerate(combos):
            frames.append(run_one(name, combo))
            if done:
                done(k + 1, len(combos))
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            futures = [pool.submit(run_one, name, combo) for combo in combos]
            frames = []
            for k, fut in enumerate(futures):
                frames.append(fut.result())
                if done:
                    done(k + 1, len(combos))
    out = pd.concat(frames, ignore_index=True)
    return out[[*params, *SUMMARY_COLUMNS]]


def _on_ray(scenario: str, combos: list[dict[str, Any]], address: str) -> list[pd.DataFrame]:
    try:
        import ray  # an optional extra: the base install stays small
    except ImportError:
        raise InputError("--address", "address", address,
                         "Ray is not installed (pip install 'wattbit[ray]')") from None
    ray.init(address=address, ignore_reinit_error=True)
    task = ray.remote(run_one)
    return ray.get([task.remote(scenario, combo) for combo in combos])

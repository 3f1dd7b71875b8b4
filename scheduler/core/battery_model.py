"""The batteries in the fast builder: their columns and rows, and a battery schedule read
from a solution or written into a start vector (`battery` states the model)."""

from __future__ import annotations

import numpy as np

from scheduler.core.battery import clean_kw, soc_kwh
from scheduler.core.builder import MatrixBuilder
from scheduler.core.problem import OVER_CAP_PENALTY_PER_KWH, Problem
from scheduler.core.schedule import Schedule

Blocks = dict[str, tuple[int, int]]
"""Column (or row) blocks of a model: name → (first index, count)."""


def battery_cells(p: Problem) -> np.ndarray:
    """Flat (site × T + slot) indices of every battery site's slots, site-major."""
    T = p.n_slots
    return (np.flatnonzero(p.has_battery)[:, None] * T + np.arange(T)[None, :]).ravel()


def add_batteries(b: MatrixBuilder, p: Problem, L: np.ndarray, link: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Per battery site and slot: charge C and discharge D (kW, ≤ its kW), state of charge
    E (kWh at the slot's end, in [min, capacity], the last ≥ the start), the direction Y
    (binary: 1 charging, 0 discharging), and O (kW above the cap that work laid down outside
    forces). Rows: site-battery-charge-upper C ≤ kW·Y, site-battery-discharge-upper
    D ≤ kW·(1 − Y), site-battery-soc-def
    E[t] − E[t−1] − √η h C + h/√η D = 0 (E[−1] = start); site-grid-upper
    PUE L + C − D − O ≤ cap − base; site-grid-lower (no export) PUE L + C − D ≥ −base; and
    C − D joins the zero-carbon row. Returns the (cells, C, D) for the minimum-limit rows."""
    if not p.has_battery.any():
        return None
    bt = p.battery
    assert bt is not None
    T, h = p.n_slots, p.slot_h
    cells = battery_cells(p)
    site = cells // T
    first = cells % T == 0
    kw = bt.kw[site]
    price = (p.cost_per_kwh() * h).ravel()[cells]
    C = b.add_cols("site-battery-charge-kw", price, 0.0, kw, integer=False)
    D = b.add_cols("site-battery-discharge-kw", -price, 0.0, kw, integer=False)
    last = cells % T == T - 1
    e_lo = np.where(last, np.maximum(bt.min_kwh[site], bt.start_kwh[site]), bt.min_kwh[site])
    E = b.add_cols("site-battery-soc-kwh", np.zeros(cells.size), e_lo, bt.kwh[site],
                   integer=False)
    # one direction per slot (a battery does not charge and discharge at once: doing so
    # would burn energy in losses wherever energy is worth less than nothing)
    Y = b.add_cols("site-battery-charging", np.zeros(cells.size), 0.0, 1.0, integer=True)
    rows = b.add_rows("site-battery-charge-upper", -np.inf, 0.0, cells.size)
    b.add_entries(rows, C, 1.0)
    b.add_entries(rows, Y, -kw)
    rows = b.add_rows("site-battery-discharge-upper", -np.inf, kw, cells.size)
    b.add_entries(rows, D, 1.0)
    b.add_entries(rows, Y, kw)
    soc = b.add_rows("site-battery-soc-def", np.where(first, bt.start_kwh[site], 0.0),
                     np.where(first, bt.start_kwh[site], 0.0), cells.size)
    b.add_entries(soc, E, 1.0)
    b.add_entries(soc[~first], E[np.flatnonzero(~first) - 1], -1.0)
    b.add_entries(soc, C, -bt.one_way[site] * h)
    b.add_entries(soc, D, h / bt.one_way[site])
    base = p.base_kw.ravel()[cells]
    cap = p.facility_cap_kw.ravel()[cells]
    pue = p.pue.ravel()[cells]
    up = b.add_rows("site-grid-upper", -np.inf, cap - base, cells.size)
    low = b.add_rows("site-grid-lower", -base, np.inf, cells.size)
    for rows in (up, low):
        b.add_entries(rows, L[cells], pue)
        b.add_entries(rows, C, 1.0)
        b.add_entries(rows, D, -1.0)
    forced = np.flatnonzero(base > cap)
    if forced.size:
        over = b.add_cols("site-over-cap-kw", np.full(forced.size, OVER_CAP_PENALTY_PER_KWH * h),
                       0.0, base[forced] - cap[forced], integer=False)
        b.add_entries(up[forced], over, -1.0)
    b.add_entries(link[cells], C, -h)
    b.add_entries(link[cells], D, h)
    return cells, C, D


def battery_from(p: Problem, blocks: Blocks, x: np.ndarray, sched: Schedule) -> Schedule:
    """`sched` with the battery charge and discharge of solution `x` of a model with column
    `blocks` (unchanged when the model has no battery)."""
    if "site-battery-charge-kw" not in blocks:
        return sched
    cells = battery_cells(p)
    kw = p.battery.kw[cells // p.n_slots] if p.battery is not None else 0.0
    out = []
    for name in ("site-battery-charge-kw", "site-battery-discharge-kw"):
        c0, n = blocks[name]
        arr = np.zeros(p.pue.size)
        arr[cells] = clean_kw(x[c0:c0 + n], kw)
        out.append(arr.reshape(p.pue.shape))
    sched.charge_kw, sched.discharge_kw = out
    return sched


def battery_vector(p: Problem, blocks: Blocks, sched: Schedule, grid_kw: np.ndarray,
                   x: np.ndarray) -> None:
    """Fill the battery columns of primal vector `x` (a model with column `blocks`) from
    `sched` (idle without a battery schedule); `grid_kw` (S, T) is its grid draw."""
    assert p.battery is not None
    cells = battery_cells(p)
    zeros = np.zeros(p.pue.shape)
    charge = zeros if sched.charge_kw is None else sched.charge_kw
    discharge = zeros if sched.discharge_kw is None else sched.discharge_kw
    for name, arr in (("site-battery-charge-kw", charge), ("site-battery-discharge-kw",
                                                           discharge),
                      ("site-battery-soc-kwh",
                       soc_kwh(p.battery, charge, discharge, p.slot_h))):
        c0, n = blocks[name]
        x[c0:c0 + n] = arr.ravel()[cells]
    y0, n = blocks["site-battery-charging"]
    x[y0:y0 + n] = (discharge.ravel()[cells] <= 0).astype(float)
    if "site-over-cap-kw" in blocks:
        o0, n = blocks["site-over-cap-kw"]
        base, cap = p.base_kw.ravel()[cells], p.facility_cap_kw.ravel()[cells]
        forced = np.flatnonzero(base > cap)
        over = grid_kw.ravel()[cells[forced]] - cap[forced]
        x[o0:o0 + n] = np.clip(over, 0.0, base[forced] - cap[forced])

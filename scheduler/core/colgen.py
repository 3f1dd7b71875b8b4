"""Column generation for large instances: the LP bound without building every column.

The restricted master holds the site columns, every class's unplaced slack and the start
columns found so far (first those of the greedy plan). Each round prices every
(class, site, start) against the row duals with cumulative sums and adds the most negative
ones. The Lagrangian bound z_RMP + Σ_c n_c · min(0, min reduced cost_c) is a valid lower
bound of the full problem at every round; checkpointable classes are also priced by their
cheapest schedule in pieces, overheads and lateness included (`job_pieces`; exact for
overheads of up to one slot), so the bound stays valid for preemptive plans. With
`pieces`, that schedule joins the master as a column while the bound is sought, and the
bound reaches the full model's LP (running checkpointable jobs' schedules in pieces join
it always); rounding keeps them (`Master.decode`). `lagrangian_bound` gives the same kind
of bound at any prices (e.g. another instance's duals); a re-plan's master also starts with
the columns the last one's LP used (`Columns`). `dive` then rounds the master's LP
solution to an integral plan, pricing new columns as jobs are pushed out of theirs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse

from scheduler.core.milp_fast import (
    FastModel,
    build_fast,
    class_of,
    decode,
    job_classes,
    ragged,
)
from scheduler.core.problem import NOT_FIXED, Problem
from scheduler.core.schedule import Schedule
from scheduler.core.solver import LpSession, MatrixModel, SolveStatus, run_highs
from scheduler.core.split_runs import job_pieces

CHUNK = 2048  # classes priced at once (bounds memory to CHUNK × S × T floats)
STALL = 1e-3
"""Without schedules in pieces in the master, column generation stops once the bounds of two
masters converged over single runs differ by less than this share of the LP objective: the
bound prices runs in pieces the master does not hold and then creeps (1,000-job states of
`benchmarks/replan_speed.py`: 20 s more rounds lifted it by 0.2 %). With them it climbs to
the full model's LP."""
SMOOTHING = 0.8
"""Schedules in pieces are priced this share of the way from the last duals to the centre,
the prices of the best bound so far; after each mispricing 1 − this share closer to the
duals (`Master._price_pieces`)."""


def schedule_options(p: Problem, classes: list[np.ndarray], sched: Schedule
                     ) -> set[tuple[int, int, int]]:
    """The (class, site, start) columns a single-run schedule uses (for a job bound to one
    run — fixed, or running and going on — only that run: a running checkpointable job
    moved elsewhere pays its restart overhead, which a start column has no room for)."""
    job_class = class_of(len(p.jobs), classes)
    first = sched.start_slot()
    placed = np.flatnonzero(sched.site >= 0)
    free = p.bound_site == NOT_FIXED
    return {(int(job_class[j]), int(sched.site[j]), int(first[j]))
            for j in placed if len(sched.segments(int(j))) == 1
            and (free[j] or (sched.site[j], first[j]) == (p.bound_site[j], p.bound_start[j]))}


class _Pricer:
    """Reduced costs of all start columns for given duals (vectorised by class chunks)."""

    def __init__(self, p: Problem, classes: list[np.ndarray]) -> None:
        self.p = p
        rep = np.array([cl[0] for cl in classes], dtype=int)
        self.kw, self.g = p.it_kw[rep], p.gpus[rep].astype(float)
        self.d, self.rel, self.ddl = p.dur_slots[rep], p.release_slot[rep], p.deadline_slot[rep]
        self.allowed = p.allowed[rep]
        self.ckpt = p.checkpointable[rep] & (p.fixed_site[rep] == NOT_FIXED)
        """May run in pieces: checkpointable and not fixed (pinned, or by `--freeze`)."""
        self.resume, self.cont = p.resume_slots[rep], p.continue_site[rep]
        self.n = np.array([len(cl) for cl in classes], dtype=float)
        self.piece_site = np.full(len(classes), -1)
        """Per class, after `price` with `bound`: the site where running in pieces is
        cheaper than any single run, else −1."""
        self.piece_points = np.full(self.allowed.shape, np.inf)
        """(C, S) after `price` with `bound`: `preemptive_costs` of each class and site (inf
        where it may not run in pieces)."""
        # what does not depend on the prices, once: the slots each class may run in, alone
        # (GPUs; kW too where no battery can lift the site above its cap) — the LP may not
        # pass a job through a full slot in fractions, which made its bound weak — and the
        # starts whose whole run lies in such slots, inside the horizon, from the release
        T, kk = p.n_slots, np.arange(p.n_slots)
        alone = (self.g[:, None, None] <= p.gpu_cap[None] + 1e-9) & (
            (self.kw[:, None, None] <= p.it_cap_kw[None] + 1e-9) | p.has_battery[None, :, None])
        self.runnable = alone & (kk[None, None, :] >= self.rel[:, None, None]) \
            & self.allowed[:, :, None]
        blocked = np.concatenate([np.zeros((*alone.shape[:2], 1), dtype=np.int32),
                                  np.cumsum(~self.runnable, axis=2, dtype=np.int32)], axis=2)
        end = np.minimum(kk[None, None, :] + self.d[:, None, None], T)
        self.startable = (kk[None, None, :] + self.d[:, None, None] <= T) & (
            np.take_along_axis(blocked, end, axis=2) == blocked[:, :, :T])
        # a class bound to one run (fixed, or running and going on) has that start column
        # alone; a running checkpointable job's other runs pay restart overhead and are
        # priced in pieces below
        site, start = p.bound_site[rep], p.bound_start[rep]
        bound = np.flatnonzero(site != NOT_FIXED)
        only = np.zeros((bound.size, *self.startable.shape[1:]), dtype=bool)
        inside = start[bound] < T
        only[np.flatnonzero(inside), site[bound][inside], start[bound][inside]] = True
        self.startable[bound] &= only

    def slot_prices(self, cls: np.ndarray, load: np.ndarray, gpu: np.ndarray) -> np.ndarray:
        """(len(cls), S, T) what a slot of classes `cls` costs at the capacity duals `load`
        (per IT kW) and `gpu` (per GPU, ≤ 0)."""
        return self.kw[cls, None, None] * load[None] - self.g[cls, None, None] * gpu[None]

    def price(self, y_assign: np.ndarray, y_load: np.ndarray, y_gpu: np.ndarray, per_class: int,
              seen: np.ndarray | None, below: float = -1e-7, bound: bool = True
              ) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, ...]]:
        """(min reduced cost per class for the bound, the same over single runs only, up to
        `per_class` new columns (c, s, k) per class with reduced cost below `below`).

        `seen` (C, S, T) marks columns already in the master; they are not proposed again.
        Without it (the bound alone) no column is proposed. Without `bound` the first value
        leaves out schedules in pieces (no bound is wanted; it saves their pricing).
        """
        p, T = self.p, self.p.n_slots
        pen = p.late_points_per_slot
        self.piece_site = np.full(len(self.n), -1)
        self.piece_points[:] = np.inf
        best = np.zeros(len(self.n))
        single = np.zeros(len(self.n))
        found: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        kk = np.arange(T)
        for lo in range(0, len(self.n), CHUNK):
            sl = slice(lo, min(lo + CHUNK, len(self.n)))
            q = self.slot_prices(np.arange(sl.start, sl.stop), y_load, y_gpu)
            cs = np.concatenate([np.zeros((*q.shape[:2], 1)), np.cumsum(q, axis=2)], axis=2)
            d = self.d[sl, None, None]
            end = kk[None, None, :] + d
            window = np.take_along_axis(cs, np.minimum(end, T), axis=2) - cs[:, :, :T]
            late = pen * np.maximum(0, end - self.ddl[sl, None, None])
            rc = window + late - y_assign[sl, None, None]
            rc = np.where(self.startable[sl], rc, np.inf)
            flat = rc.reshape(rc.shape[0], -1)
            best[sl] = single[sl] = flat.min(axis=1)
            # checkpointable classes may also run in pieces: their cheapest preemptive
            # schedule at each site (`preemptive_costs`)
            ck = np.flatnonzero(self.ckpt[sl]) if bound else np.zeros(0, dtype=int)
            if ck.size:
                cls = lo + ck
                qc = np.where(self.runnable[cls], q[ck], np.inf)
                relaxed = preemptive_costs(qc, self.d[cls], self.resume[cls], self.cont[cls],
                                           self.ddl[cls], p.overhead_slots, pen)
                self.piece_points[cls] = relaxed
                pieces = relaxed.min(axis=1) - y_assign[cls]
                self.piece_site[cls] = np.where(pieces < best[cls] - 1e-7,
                                                relaxed.argmin(axis=1), -1)
                best[cls] = np.minimum(best[cls], pieces)
            if seen is None:
                continue
            flat = np.where(seen[sl].reshape(flat.shape), np.inf, flat)
            take = min(per_class, flat.shape[1])
            idx = np.argpartition(flat, take - 1, axis=1)[:, :take]
            vals = np.take_along_axis(flat, idx, axis=1)
            c_loc, pos = np.nonzero(vals < below)
            s, k = np.divmod(idx[c_loc, pos], T)
            found.append((c_loc + lo, s, k))
        cols = (tuple(np.concatenate(a) for a in zip(*found, strict=True)) if found
                else (np.zeros(0, dtype=int),) * 3)
        return best, single, cols


def preemptive_costs(q: np.ndarray, d: np.ndarray, resume: np.ndarray, cont: np.ndarray,
                     ddl: np.ndarray, o: int, pen: float) -> np.ndarray:
    """(J, S) lower bound on the points of job j's cheapest schedule in pieces at site s, at
    slot prices `q` (J, S, T; inf where it may not run): `job_pieces` with `d` slots of work
    (plus `resume` restart slots, except going on from slot 0 at its `cont` site). With `o`
    ≤ 1 that is exact at any prices; with longer overheads a piece may also end inside its
    overhead and negative prices count everywhere, so the value never exceeds the optimum,
    and equals it on non-negative prices.
    """
    J, S, T = q.shape
    site = np.tile(np.arange(S), J)
    points, _ = job_pieces(q.reshape(J * S, T), np.repeat(d, S), np.repeat(resume, S),
                           site == np.repeat(cont, S), np.repeat(ddl, S), o, pen)
    best = points.reshape(J, S)
    if o <= 1:
        return best
    return best + np.minimum(np.where(np.isfinite(q), q, 0.0), 0.0).sum(axis=2)


@dataclass(frozen=True)
class Prices:
    """Row duals of the capacity rows (HiGHS' signs): `load` per IT kW of site s in slot t
    (S, T) and `gpu` per GPU (S, T, ≤ 0). A start column's reduced cost is its lateness
    points + Σ over its slots of (kW · load − GPUs · gpu) − its class's assignment dual."""

    load: np.ndarray
    gpu: np.ndarray

    def on_grid(self, old: pd.DatetimeIndex, new: pd.DatetimeIndex) -> Prices:
        """These prices (on slots `old`) on the slots `new` of a later problem with the same
        sites: each slot takes the price of the same time, or of the nearest slot known."""
        at = np.clip(old.get_indexer(new, method="nearest"), 0, len(old) - 1)
        return Prices(self.load[:, at], self.gpu[:, at])

    def toward(self, other: Prices, share: float) -> Prices:
        """The point `share` of the way from these prices to `other`."""
        return Prices(self.load + share * (other.load - self.load),
                      self.gpu + share * (other.gpu - self.gpu))

    @classmethod
    def from_duals(cls, blocks: dict[str, tuple[int, int]], y: np.ndarray,
                   shape: tuple[int, int]) -> Prices:
        """The capacity rows' duals among the row duals `y` of a `build_fast` LP with row
        `blocks`, for (sites, slots) `shape`."""
        (l0, n), (g0, _) = blocks["site-load-def"], blocks["site-gpu-upper"]
        return cls(y[l0:l0 + n].reshape(shape), y[g0:g0 + n].reshape(shape))


@dataclass(frozen=True)
class Columns:
    """A master's columns as a later problem can read them (`Master.columns`): per start
    column its class, site and start time; per schedule in pieces of a pending job its
    class, site, run slot times and work slots. A re-plan's master starts from those still
    valid there (`Master.__init__`): most of the last plan's jobs are still waiting, and the
    columns its LP needed are most of those the next one needs."""

    members: tuple[tuple[str, ...], ...]
    """Job ids of each class of the master they come from."""
    starts: tuple[np.ndarray, np.ndarray, np.ndarray]
    """(class, site, start time in ns since the epoch, UTC) of every start column."""
    pieces: tuple[tuple[int, int, np.ndarray, int], ...]
    """(class, site, run slot times in ns, work slots) of every schedule in pieces."""

    def classes_on(self, p: Problem, classes: list[np.ndarray]) -> np.ndarray:
        """Per class here, the class of `p` (of `classes`) its first job still in `p` is in;
        −1 where none is."""
        index = {job.id: j for j, job in enumerate(p.jobs)}
        job_class = class_of(len(p.jobs), classes)
        out = np.full(len(self.members), -1)
        for c, ids in enumerate(self.members):
            here = next((index[i] for i in ids if i in index), None)
            if here is not None:
                out[c] = job_class[here]
        return out


def lagrangian_bound(p: Problem, prices: Prices) -> float:
    """A lower bound on the objective of every plan of `p` (preemptive runs included), valid
    for any `prices` with gpu ≤ 0: the capacity rows are relaxed into the objective, each
    class then takes its cheapest option (a start, or staying unplaced) and each site slot
    its cheapest IT kW. At the LP's optimal duals it equals the LP bound without
    checkpointable jobs, and may pass it with them (their integral schedules in pieces cost
    more than the LP's fractional resumes)."""
    classes = job_classes(p, np.arange(len(p.jobs)))
    return _lagrangian(p, classes, _Pricer(p, classes), prices)


def _lagrangian(p: Problem, classes: list[np.ndarray], pricer: _Pricer, prices: Prices
                ) -> float:
    """`lagrangian_bound` with the classes and pricer of `p` at hand (the pricer is left
    priced at `prices`, as `_Pricer.price` with `bound` leaves it)."""
    gpu = np.minimum(prices.gpu, 0.0)
    best, _, _ = pricer.price(np.zeros(len(pricer.n)), prices.load, gpu, 0, None)
    unplaced = p.unplaced_points[[cl[0] for cl in classes]] if classes else np.zeros(0)
    jobs = float((pricer.n * np.minimum(unplaced, best)).sum())
    if p.has_battery.any():
        return jobs + _sites_bound_lp(p, prices.load) + float((gpu * p.gpu_cap).sum())
    # site slot: min over 0 ≤ L ≤ cap of its points less the load dual · L; the function is
    # piecewise linear, so its minimum lies at 0, the cap or a knee (zero-carbon, minimum)
    kwh_per_kw = p.pue * p.slot_h
    credit = np.maximum(p.credit_per_zero_kwh(), 0.0)
    penalty = p.policy.min_limit_penalty_per_kwh
    knees = (np.zeros_like(p.it_cap_kw), p.it_cap_kw,
             np.minimum(p.zero_carbon_cap_kwh / kwh_per_kw, p.it_cap_kw),
             np.minimum(p.min_facility_kwh / kwh_per_kw, p.it_cap_kw))
    sites = np.min([(p.cost_per_kwh() * kwh_per_kw - prices.load) * L
                    - credit * np.minimum(p.zero_carbon_cap_kwh, kwh_per_kw * L)
                    + penalty * np.maximum(0.0, p.min_facility_kwh - kwh_per_kw * L)
                    for L in knees], axis=0)
    return jobs + float(sites.sum()) + float((gpu * p.gpu_cap).sum())


def _sites_bound_lp(p: Problem, load: np.ndarray) -> float:
    """The site part of the Lagrangian bound when sites have batteries (their slots are
    coupled by the state of charge): the LP of the site and battery columns alone, with the
    load rows priced at `load` instead of held."""
    fm = build_fast(p.part(np.zeros(0, dtype=int), 1.0))
    m = fm.matrix
    c = m.c.copy()
    L0, n = fm.blocks["site-it-kw"]
    c[L0:L0 + n] -= load.ravel()
    r0, n = fm.blocks["site-load-def"]
    lo, hi = m.row_lo.copy(), m.row_hi.copy()
    lo[r0:r0 + n], hi[r0:r0 + n] = -np.inf, np.inf
    lp = run_highs(MatrixModel(c, m.lb, m.ub, m.integer, m.A, lo, hi), time_limit_s=60.0,
                   relax=True)
    return lp.objective if lp.status is SolveStatus.OPTIMAL else -np.inf


class Master:
    """The restricted master LP, kept in HiGHS, with the start columns generated so far."""

    def __init__(self, p: Problem, incumbent: Schedule, prices: Prices | None = None,
                 per_class: int = 3, pieces: bool = False,
                 columns: Columns | None = None) -> None:
        """Start from the incumbent's columns, given `prices` (e.g. from a similar
        instance) each class's `per_class` cheapest starts at those prices, and given
        `columns` (e.g. the last re-plan's master's) those still valid here. With `pieces`,
        pricing for the bound also adds schedules in pieces (`_add_pieces`)."""
        self.p = p
        self.classes = job_classes(p, np.arange(len(p.jobs)))
        self.pricer = _Pricer(p, self.classes)
        S, T = p.pue.shape
        self.seen = np.zeros((len(self.classes), S, T), dtype=bool)
        known = schedule_options(p, self.classes, incumbent)
        self.opts: tuple[np.ndarray, ...] = (
            tuple(np.array(a, dtype=int) for a in zip(*sorted(known), strict=True)) if known
            else (np.zeros(0, int),) * 3)
        self.seen[self.opts] = True
        if prices is not None:
            _, _, cheap = self.pricer.price(np.zeros(len(self.classes)), prices.load,
                                            prices.gpu, per_class, self.seen, below=np.inf,
                                            bound=False)
            self.seen[cheap] = True
            self.opts = tuple(np.concatenate(a) for a in zip(self.opts, cheap, strict=True))
        mapped = np.zeros(0, dtype=int) if columns is None else columns.classes_on(
            p, self.classes)
        if columns is not None:
            kept = self._starts_from(columns, mapped)
            self.seen[kept] = True
            self.opts = tuple(np.concatenate(a) for a in zip(self.opts, kept, strict=True))
        fm = build_fast(p, preemptive=False, options=self.opts)
        self.session = LpSession(fm.matrix)
        self.blocks = fm.blocks
        self.first_start_col = fm.blocks["class-start-count"][0]  # new columns go last
        self.lb = np.zeros(len(self.opts[0]))
        self.ub = np.full(len(self.opts[0]), np.inf)
        self.x: np.ndarray | None = None
        self.y: np.ndarray | None = None
        self.lp_objective = np.inf
        self.bound = -np.inf
        """Best Lagrangian lower bound of the full LP (valid while no dive bounds are set)."""
        self.bound_is_current = False
        """`bound` was priced at the last duals."""
        self.converged_bound = -np.inf
        """`bound` when the master last converged over single runs."""
        self.stalled = False
        """The bound gained less than `STALL` of the LP objective between the last two
        masters converged over single runs (see there)."""
        self.pieces = pieces
        self.piece_cols: list[int] = []
        """LP columns of schedules in pieces (see `_add_pieces`), after the model's."""
        self.piece_runs: list[tuple[int, int, np.ndarray]] = []
        """(class, site, run slots) of each column in `piece_cols`."""
        self.piece_keys: set[tuple[int, int, bytes]] = set()
        self.smooth = not p.has_battery.any()
        """Price schedules in pieces at smoothed prices (`_price_pieces`; not with batteries,
        whose Lagrangian bound takes an LP)."""
        self.center: Prices | None = None
        """The prices of the best Lagrangian bound so far: `prices` if given, else duals."""
        self.center_value = -np.inf
        self.first_round = True
        """No round has priced schedules in pieces yet (the first always does)."""
        if prices is not None and self.smooth:
            self._keep_center(prices, _lagrangian(p, self.classes, self.pricer, prices))
        if columns is not None:
            self._pieces_from(columns, mapped)

    def _starts_from(self, columns: Columns, mapped: np.ndarray) -> tuple[np.ndarray, ...]:
        """The start columns of `columns` (classes `mapped` here) that are start columns
        here and not yet in the master, once each."""
        c_old, site, when = columns.starts
        c = mapped[c_old]
        slots = self.p.slot_starts.asi8
        k = np.minimum(np.searchsorted(slots, when), len(slots) - 1)
        ok = (c >= 0) & (slots[k] == when)
        c, site, k = c[ok], site[ok], k[ok]
        ok = self.pricer.startable[c, site, k] & ~self.seen[c, site, k]
        flat = np.unique(np.ravel_multi_index((c[ok], site[ok], k[ok]), self.seen.shape))
        return np.unravel_index(flat, self.seen.shape)

    def _pieces_from(self, columns: Columns, mapped: np.ndarray) -> None:
        """Add the schedules in pieces of `columns` whose class is here, still pending with
        the same work, and may run in every one of their slots."""
        pr, slots = self.pricer, self.p.slot_starts.asi8
        cls, site, runs = [], [], []
        for c_old, s, when, work in columns.pieces:
            c = int(mapped[c_old])
            if c < 0 or not pr.ckpt[c] or pr.cont[c] != NOT_FIXED or pr.d[c] != work:
                continue
            k = np.searchsorted(slots, when)
            if (k >= len(slots)).any() or (slots[k] != when).any() \
                    or not pr.runnable[c, s, k].all():
                continue
            run = np.zeros(len(slots), dtype=bool)
            run[k] = True
            cls.append(c)
            site.append(s)
            runs.append(run)
        if cls:
            self._append_pieces(np.array(cls), np.array(site), np.array(runs))

    def columns(self) -> Columns:
        """The columns of the last LP solution (those it uses) for a later problem (the
        next re-plan's master: with every column it had, it grew round after round and its
        column generation took 2× longer on `benchmarks/replan_speed.py`)."""
        assert self.x is not None
        slots = self.p.slot_starts.asi8
        c, s, k = self.opts
        on = self.x[self.start_cols] > 1e-9
        return Columns(tuple(tuple(self.p.jobs[j].id for j in cl) for cl in self.classes),
                       (c[on], s[on], slots[k[on]]),
                       tuple((c, s, slots[run], int(self.pricer.d[c]))
                             for col, (c, s, run) in zip(self.piece_cols, self.piece_runs,
                                                         strict=True)
                             if self.x[col] > 1e-9 and self.pricer.cont[c] == NOT_FIXED))

    @property
    def start_cols(self) -> np.ndarray:
        """Column index of every start option in the master's LP."""
        return self._model_cols()[self.first_start_col:]

    def _model_cols(self) -> np.ndarray:
        """LP column of every column of `model` (all but those in pieces, in order)."""
        return np.delete(np.arange(self.session.num_cols), self.piece_cols)

    def prices(self) -> Prices:
        """The capacity rows' duals of the last optimal solve."""
        assert self.y is not None
        return Prices.from_duals(self.blocks, self.y, self.p.pue.shape)

    def model(self) -> FastModel:
        """The master without its schedules in pieces as a `FastModel` (in the column order
        of the LP in HiGHS)."""
        return build_fast(self.p, preemptive=False, options=self.opts)

    def decode(self, x: np.ndarray) -> Schedule:
        """A (possibly fractional) solution of the master → Schedule: `milp_fast.decode` of
        its start columns, then each schedule in pieces taken whole (by the class's jobs
        left, in index order); fractional parts are left unplaced."""
        sched = decode(self.p, self.model(), x[self._model_cols()])
        for col, (c, site, run) in zip(self.piece_cols, self.piece_runs, strict=True):
            left = [j for j in self.classes[c] if sched.site[j] < 0]
            for j in left[:int(np.floor(x[col] + 1e-6))]:
                sched.place(int(j), site, run)
        return sched

    def solve(self, time_limit_s: float) -> SolveStatus:
        """Re-solve the LP; on optimality keep its primal `x` and duals `y`."""
        status, objective, x, y = self.session.solve(time_limit_s)
        if status is SolveStatus.OPTIMAL:
            self.lp_objective, self.x, self.y = objective, x, y
            self.bound_is_current = False
        return status

    def set_bounds(self, lb: np.ndarray, ub: np.ndarray) -> None:
        """Bounds on the start counts (the dive's fixings)."""
        self.lb, self.ub = lb, ub
        self.session.set_bounds(self.start_cols, lb, ub)

    def update_bound(self) -> None:
        """Raise `bound` to the Lagrangian bound at the last duals (runs in pieces priced
        too)."""
        assert self.y is not None
        a0, nc = self.blocks["class-assign"]
        duals = self.prices()
        best, _, _ = self.pricer.price(self.y[a0:a0 + nc], duals.load, duals.gpu, 0, None)
        self._keep_center(duals, self.lp_objective
                          + float((self.pricer.n * np.minimum(0.0, best)).sum()))
        self.bound_is_current = True

    def _keep_center(self, prices: Prices, value: float) -> None:
        """Raise `bound` to `value`, the Lagrangian bound at `prices`; the best become the
        centre."""
        self.bound = max(self.bound, value)
        if value > self.center_value:
            self.center = Prices(prices.load, np.minimum(prices.gpu, 0.0))
            self.center_value = value

    def price(self, per_class: int, tol: float | None) -> int:
        """Add the most negative start columns for the last duals; return how many.

        With `tol`, on the first round and whenever the master is within `tol` of the LP
        over all single-run columns, also update `bound` (which prices runs in pieces too)
        and add schedules in pieces instead (`_add_pieces`).
        """
        assert self.y is not None
        a0, nc = self.blocks["class-assign"]
        y_assign, duals = self.y[a0:a0 + nc], self.prices()
        _, single, new = self.pricer.price(y_assign, duals.load, duals.gpu, per_class,
                                           self.seen, bound=False)
        if tol is not None:
            n, scale = self.pricer.n, max(1.0, abs(self.lp_objective))
            lp_single = self.lp_objective + float((n * np.minimum(0.0, single)).sum())
            converged = self.lp_objective - lp_single <= tol * scale
            if converged or self.first_round:
                self.first_round = False
                added = self._price_pieces(y_assign, duals)
                if converged:
                    was, self.converged_bound = self.converged_bound, self.bound
                    self.stalled = not self.pieces and self.bound - was < STALL * scale
                    return added
        if new[0].size == 0:
            return 0
        self.seen[new] = True
        part = build_fast(self.p, preemptive=False, options=new).matrix
        cols = slice(self.first_start_col, self.first_start_col + new[0].size)
        self.session.add_columns(part.c[cols], part.lb[cols], part.ub[cols], part.A[:, cols])
        self.opts = tuple(np.concatenate([a, b]) for a, b in zip(self.opts, new, strict=True))
        self.lb = np.concatenate([self.lb, np.zeros(new[0].size)])
        self.ub = np.concatenate([self.ub, np.full(new[0].size, np.inf)])
        if self.x is not None:  # the new columns are 0 in the last solution
            self.x = np.concatenate([self.x, np.zeros(new[0].size)])
        return int(new[0].size)


    def _price_pieces(self, y_assign: np.ndarray, duals: Prices) -> int:
        """Update `bound` and add schedules in pieces (`_add_pieces`), priced between the
        centre and the duals (Wentges smoothing): a re-plan's master often stays at its
        incumbent for a hundred rounds, its duals jumping between the vertices of a
        degenerate optimum and the bound creeping up; the centre's prices hold. Only the
        classes and sites the pricing at the duals finds cheaper in pieces are priced, and a
        schedule joins only if it prices out at the duals; while none does, the point moves
        on toward them, `1 − SMOOTHING` of the way at a time (each step still raises the
        centre's bound), at last onto them."""
        before = self.center_value
        self.update_bound()
        cls, site = self._cheaper_in_pieces(y_assign)
        if cls.size == 0:  # nothing prices out at the duals, so nothing between either
            return 0
        # the last step is the duals (at once when they are the new centre)
        steps = round(1.0 / (1.0 - SMOOTHING)) if self.smooth and self.center_value <= before \
            else 1
        added = 0
        for step in range(1, steps + 1):
            at = duals
            if step < steps:
                assert self.center is not None
                at = self.center.toward(duals, step / steps)
                self._keep_center(at, _lagrangian(self.p, self.classes, self.pricer, at))
            added = self._add_pieces(y_assign, duals, at, cls, site)
            if added:
                break
        return added

    def _cheaper_in_pieces(self, y_assign: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(classes, sites) whose schedule in pieces may price out at the duals the pricer
        was last run at (its relaxation, `preemptive_costs`, does): checkpointable classes
        cheaper in pieces than in one run (with `pieces`) and running ones on every allowed
        site (always)."""
        pr = self.pricer
        moves = pr.ckpt & (pr.cont != NOT_FIXED)
        cheaper = np.flatnonzero((pr.piece_site >= 0) & (self.pieces | moves))
        running = np.argwhere(moves[:, None] & pr.allowed)
        pairs = np.unique(np.concatenate([np.column_stack([cheaper, pr.piece_site[cheaper]]),
                                          running]), axis=0).reshape(-1, 2)
        cls, site = pairs[:, 0], pairs[:, 1]
        out = np.flatnonzero(pr.piece_points[cls, site] - y_assign[cls] < -1e-7)
        return cls[out], site[out]

    def _add_pieces(self, y_assign: np.ndarray, duals: Prices, at: Prices, cls: np.ndarray,
                    site: np.ndarray) -> int:
        """Add for each class `cls[i]` its cheapest schedule in pieces on site `site[i]` at
        prices `at` as a column (kept apart: `piece_cols`) if it prices out at `duals`;
        return how many. Without them the master's duals keep favouring pieces the bound
        then counts; running classes (whose one start column is going on, which may not
        fit) need theirs on every allowed site, also without `pieces`: otherwise their duals
        are the cost of leaving them out, and the bound collapses."""
        pr, p = self.pricer, self.p
        each = np.arange(cls.size)
        q = np.where(pr.runnable[cls, site],
                     pr.slot_prices(cls, at.load, at.gpu)[each, site], np.inf)
        points, slots = job_pieces(q, pr.d[cls], pr.resume[cls], site == pr.cont[cls],
                                   pr.ddl[cls], p.overhead_slots, p.late_points_per_slot)
        # its points less what its slots cost at `at`: its lateness, as the DP has it
        cost = points - np.where(slots, q, 0.0).sum(axis=1)
        if at is not duals:
            q = pr.slot_prices(cls, duals.load, duals.gpu)[each, site]
        reduced = cost + np.where(slots, q, 0.0).sum(axis=1) - y_assign[cls]
        keep = np.flatnonzero(np.isfinite(points) & (reduced < -1e-7))
        return self._append_pieces(cls[keep], site[keep], slots[keep])

    def _append_pieces(self, cls: np.ndarray, site: np.ndarray, slots: np.ndarray) -> int:
        """Add schedules in pieces as columns: class `cls[i]` on site `site[i]` in the slots
        marked in row i of `slots` (N, T), at its lateness points, unless already there;
        return how many."""
        p, pr, T = self.p, self.pricer, self.p.n_slots
        keep = [i for i in range(len(cls))
                if (cls[i], site[i], slots[i].tobytes()) not in self.piece_keys]
        if not keep:
            return 0
        (a0, _), (l0, _), (g0, _) = (self.blocks["class-assign"], self.blocks["site-load-def"],
                                     self.blocks["site-gpu-upper"])
        rows, cols, vals, cost = [], [], [], []
        for n, i in enumerate(keep):
            self.piece_keys.add((cls[i], site[i], slots[i].tobytes()))
            on = np.flatnonzero(slots[i])
            rows += [a0 + cls[i], *(l0 + site[i] * T + on), *(g0 + site[i] * T + on)]
            vals += [1.0, *np.full(on.size, -pr.kw[cls[i]]), *np.full(on.size, pr.g[cls[i]])]
            cols += [n] * (1 + 2 * on.size)
            cost.append(p.late_points_per_slot * max(0, int(on[-1]) + 1 - int(pr.ddl[cls[i]])))
        A = sparse.csc_matrix((vals, (rows, cols)), shape=(self.session.num_rows, len(keep)))
        first = self.session.num_cols
        self.session.add_columns(np.array(cost), np.zeros(len(keep)),
                                 np.full(len(keep), np.inf), A)
        self.piece_cols += list(range(first, first + len(keep)))
        self.piece_runs += [(int(cls[i]), int(site[i]), np.flatnonzero(slots[i])) for i in keep]
        if self.x is not None:
            self.x = np.concatenate([self.x, np.zeros(len(keep))])
        return len(keep)

def column_generation(p: Problem, incumbent: Schedule, time_limit_s: float,
                      per_class: int = 2, max_rounds: int = 200, tol: float = 1e-4,
                      prices: Prices | None = None, enough: float = np.inf,
                      pieces: bool = False, columns: Columns | None = None) -> Master:
    """Grow the restricted master from the incumbent's columns (and the cheapest at `prices`)
    until no column prices out, the bound reaches `enough` (e.g. what proves a plan within
    its gap) or the budget ends; `bound` is then the LP bound. With `pieces`, schedules in
    pieces of checkpointable jobs join the master while it runs (`Master._add_pieces`):
    the bound then reaches the full model's LP, where single runs alone can stay several
    per cent under it."""
    t0 = time.perf_counter()
    master = Master(p, incumbent, prices, pieces=pieces, columns=columns)
    for _ in range(max_rounds):
        left = time_limit_s - (time.perf_counter() - t0)
        if left <= 0 or master.solve(left) is not SolveStatus.OPTIMAL:
            break
        if master.price(per_class, tol) == 0 or master.bound >= enough or master.stalled:
            break
    if master.y is not None and not master.bound_is_current:  # out of time or rounds
        master.update_bound()
    return master


def _fitting(master: Master, lb: np.ndarray, order: np.ndarray, most: int) -> np.ndarray:
    """Up to `most` columns of `order`, taken in order, at most one per class and only for
    classes with a job not yet fixed by `lb`, whose job fits under the GPU and power caps
    beside the jobs fixed by `lb` and those taken before — so rounding them up keeps the LP
    feasible. A class whose first column does not fit may take a later one."""
    p, pr = master.p, master.pricer
    c, s, k = master.opts
    on = np.flatnonzero(lb > 0)
    col, slot = ragged(k[on], pr.d[c[on]])
    gpus, it_kw = np.zeros(p.pue.shape), np.zeros(p.pue.shape)
    np.add.at(gpus, (s[on][col], slot), (lb[on] * pr.g[c[on]])[col])
    np.add.at(it_kw, (s[on][col], slot), (lb[on] * pr.kw[c[on]])[col])
    fixed = np.bincount(c, weights=lb, minlength=len(master.classes))
    done = fixed >= np.array([len(cl) for cl in master.classes]) - 1e-9
    fits: list[int] = []
    for i in order:
        if len(fits) >= most:
            break
        si, run = s[i], slice(k[i], k[i] + pr.d[c[i]])
        if not done[c[i]] and (gpus[si, run] + pr.g[c[i]] <= p.gpu_cap[si, run] + 1e-9).all() \
                and (it_kw[si, run] + pr.kw[c[i]] <= p.it_cap_kw[si, run] + 1e-9).all():
            gpus[si, run] += pr.g[c[i]]
            it_kw[si, run] += pr.kw[c[i]]
            done[c[i]] = True
            fits.append(int(i))
    return np.array(fits, dtype=int)


def dive(master: Master, time_limit_s: float, share: float = 0.2,
         stuck_steps: int = 2) -> np.ndarray | None:
    """Round the master's LP solution to an integral one by diving (price-and-dive).

    Each step keeps the integral parts of the start counts as lower bounds and rounds up,
    largest fractional part first and at most one column per class, every column whose job
    still fits under the caps beside the fixed ones (a class whose first column does not
    fit takes a later one); when none fits, the open columns are rounded down, and new
    columns are priced in, so a job pushed out of its column finds another start. (Pricing
    after every step as well took 2–4× the time on 1,000-job instances for plans no better
    once filled and moved.) After `stuck_steps` such steps in a row, or when the budget
    ends, the last LP solution is returned as it is: its fractional parts are jobs for the
    greedy fill (`decode` floors the counts). A class that fits only fractionally beside the
    fixed jobs otherwise kept pricing new columns that did not fit either, for 20 s on a
    1,100-job re-plan of `benchmarks/replan_speed.py`. None when there is no LP solution.
    """
    t0 = time.perf_counter()

    def left() -> float:
        return time_limit_s - (time.perf_counter() - t0)

    stuck = 0
    while master.x is not None and left() > 0 and stuck < stuck_steps:
        value = master.x[master.start_cols]
        floor = np.floor(value + 1e-6)
        frac = value - floor
        open_ = np.flatnonzero(frac > 1e-6)
        if open_.size == 0:
            break
        lb, ub = np.maximum(master.lb, floor), master.ub.copy()
        order = open_[np.argsort(-frac[open_], kind="stable")]
        pick = _fitting(master, lb, order, max(1, int(share * open_.size)))
        stuck = 0 if pick.size else stuck + 1
        if pick.size:
            lb[pick] += 1
        else:
            ub[open_] = floor[open_]
        master.set_bounds(lb, ub)
        if master.solve(left()) is not SolveStatus.OPTIMAL:
            break
        if not pick.size and master.price(1, tol=None):
            master.solve(left())
    return master.x

"""The fast builder: the time-indexed MILP assembled as a sparse matrix for HiGHS.

Same model as `milp_pyomo` (the readable reference), with one structural difference that
keeps it exact: identical non-checkpointable jobs (same duration, window, GPUs, kW and
allowed sites) form a *class* whose start variables are integer counts (a batch of 500
identical sweeps is one class; jobs with individual windows stay classes of one).
Checkpointable jobs are modelled one by one (or as classes of single runs when
`preemptive=False`, as column generation uses).

Columns: fixed-start counts x[c,s,k] · site IT kW L[s,t] · zero-carbon kWh Z[s,t] · kWh
short of a minimum limit M[s,t] · battery sites: charge C, discharge D (kW), state of charge
E (kWh), direction Y (binary), kW over the cap O · unplaced slack u[c] · checkpointable: site
z[j,s], run r[j,s,t], resume y[j,s,t], lateness h[j].
Rows (named `{entity}-{rule}`): class-assign, site-load-def, site-gpu-upper,
site-zero-carbon-upper, site-battery-charge-upper, site-battery-discharge-upper,
site-battery-soc-def, site-grid-upper, site-grid-lower, site-min-limit-lower,
job-run-site-upper, job-resume-lower, job-work, job-resume-upper-run, job-resume-upper-idle,
job-first-start-lower, job-lateness-lower. At battery sites the zero-carbon and minimum-limit
rows and the cap bind the grid draw PUE × L + C − D (plus the work laid down outside a
residual problem); see `battery` for the battery's rules.
A running checkpointable job's work row waives its restart overhead when it runs in slot 0
on the site it runs on now (it simply continues).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from scheduler.core.battery_model import add_batteries, battery_from, battery_vector
from scheduler.core.builder import MatrixBuilder
from scheduler.core.problem import NOT_FIXED, Problem
from scheduler.core.schedule import Schedule, site_loads
from scheduler.core.solver import MatrixModel, SolveStatus, run_highs


@dataclass(frozen=True)
class StartColumns:
    """The x[c,s,k] columns (parallel arrays): matrix column, class, site, start slot."""

    col: np.ndarray
    cls: np.ndarray
    site: np.ndarray
    start: np.ndarray


@dataclass(frozen=True)
class SlotColumns:
    """Checkpointable jobs modelled slot by slot (parallel arrays per column kind): the
    jobs; site choices z (matrix column, job, site); runs r (matrix column, job, site, slot)."""

    jobs: np.ndarray
    site_col: np.ndarray
    site_job: np.ndarray
    site_site: np.ndarray
    run_col: np.ndarray
    run_job: np.ndarray
    run_site: np.ndarray
    run_slot: np.ndarray


@dataclass(frozen=True)
class FastModel:
    """The matrix plus what is needed to turn a solution back into a `Schedule`."""

    matrix: MatrixModel
    class_jobs: list[np.ndarray]
    starts: StartColumns
    slots: SlotColumns
    blocks: dict[str, tuple[int, int]]


def job_classes(p: Problem, jobs: np.ndarray) -> list[np.ndarray]:
    """Group interchangeable jobs (same duration, window, GPUs, kW, sites, checkpointable,
    and live state: fixed or running site), each class in ascending job order."""
    if jobs.size == 0:
        return []
    sites_bits = p.allowed[jobs] @ (1 << np.arange(p.allowed.shape[1], dtype=np.int64))
    key = np.stack([p.dur_slots[jobs], p.release_slot[jobs], p.deadline_slot[jobs],
                    p.gpus[jobs], np.round(p.it_kw[jobs] * 1e6).astype(np.int64),
                    sites_bits, p.checkpointable[jobs], p.fixed_site[jobs],
                    p.fixed_start[jobs], p.continue_site[jobs]], axis=1)
    _, inverse = np.unique(key, axis=0, return_inverse=True)
    order = np.argsort(inverse, kind="stable")
    splits = np.flatnonzero(np.diff(inverse[order])) + 1
    return np.split(jobs[order], splits)


def class_of(n_jobs: int, classes: list[np.ndarray]) -> np.ndarray:
    """(n_jobs,) class index of every job (−1 for jobs in no class)."""
    out = np.full(n_jobs, -1)
    for c, cl in enumerate(classes):
        out[cl] = c
    return out


def ragged(starts: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For runs [start, start+length): (owner index, position) of every element."""
    owner = np.repeat(np.arange(len(starts)), lengths)
    offsets = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    return owner, np.repeat(starts, lengths) + offsets


def site_it_ub(p: Problem) -> np.ndarray:
    """(S, T) upper bound of L: the IT cap, or at battery sites what the cap plus a full
    discharge leaves beside the work laid down outside the problem."""
    if p.battery is None:
        return p.it_cap_kw
    reach = np.maximum(0.0, (p.facility_cap_kw - p.base_kw + p.battery.kw[:, None]) / p.pue)
    return np.where(p.has_battery[:, None], reach, p.it_cap_kw)


def add_site_columns(b: MatrixBuilder, p: Problem) -> tuple[np.ndarray, np.ndarray]:
    """L[s,t] (IT kW, ≤ power cap / PUE) and Z[s,t] (zero-carbon kWh) with their rows, and
    the batteries' columns and rows."""
    S, T = p.pue.shape
    L = b.add_cols("site-it-kw", (p.cost_per_kwh() * p.pue * p.slot_h).ravel(), 0.0,
                   site_it_ub(p).ravel(), integer=False)
    Z = b.add_cols("site-zero-carbon-kwh", -p.credit_per_zero_kwh().ravel(), 0.0,
                   p.zero_carbon_cap_kwh.ravel(), integer=False)
    ldef = b.add_rows("site-load-def", 0.0, 0.0, S * T)
    b.add_entries(ldef, L, 1.0)
    b.add_rows("site-gpu-upper", -np.inf, p.gpu_cap.ravel(), S * T)
    link = b.add_rows("site-zero-carbon-upper", -np.inf, (p.base_kw * p.slot_h).ravel(), S * T)
    b.add_entries(link, Z, 1.0)
    b.add_entries(link, L, -(p.pue * p.slot_h).ravel())
    grid = add_batteries(b, p, L, link)
    add_min_limits(b, p, L, grid)
    return ldef, ldef + S * T


def add_min_limits(b: MatrixBuilder, p: Problem, L: np.ndarray,
                   grid: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None) -> None:
    """M[s,t] kWh short of a minimum limit, penalised: facility kWh + M ≥ minimum (battery
    sites: grid kWh, with the work laid down outside)."""
    where = np.flatnonzero(p.min_facility_kwh.ravel() > 0)
    if where.size == 0:
        return
    need = p.min_facility_kwh.ravel()[where]
    M = b.add_cols("site-min-short-kwh", np.full(where.size, p.policy.min_limit_penalty_per_kwh),
                   0.0, need, integer=False)
    rows = b.add_rows("site-min-limit-lower", need - (p.base_kw * p.slot_h).ravel()[where],
                      np.inf, where.size)
    b.add_entries(rows, M, 1.0)
    b.add_entries(rows, L[where], (p.pue * p.slot_h).ravel()[where])
    if grid is not None:
        cells, C, D = grid
        pos = np.searchsorted(cells, where)
        has = (pos < cells.size) & (cells[np.minimum(pos, cells.size - 1)] == where)
        b.add_entries(rows[has], C[pos[has]], p.slot_h)
        b.add_entries(rows[has], D[pos[has]], -p.slot_h)


def all_start_options(p: Problem, classes: list[np.ndarray]) -> tuple[np.ndarray, ...]:
    """Every (class, site, start slot) a class may start at (late starts included)."""
    if not classes:
        empty = np.zeros(0, dtype=int)
        return empty, empty, empty
    rep = np.array([cl[0] for cl in classes])
    cls_site = np.argwhere(p.allowed[rep])  # (class, site) pairs
    c_of, s_of = cls_site[:, 0], cls_site[:, 1]
    first = p.release_slot[rep[c_of]]
    n_starts = np.maximum(0, p.n_slots - p.dur_slots[rep[c_of]] - first + 1)
    # bound to one option: a fixed decision, or a running job continuing (one piece)
    only_site, only_start = p.bound_site[rep[c_of]], p.bound_start[rep[c_of]]
    bound = only_site != NOT_FIXED
    n_starts = np.where(bound, (only_site == s_of) & (only_start + p.dur_slots[rep[c_of]]
                                                      <= p.n_slots), n_starts).astype(int)
    first = np.where(bound, only_start, first)
    pair, start = ragged(first, n_starts)
    return c_of[pair], s_of[pair], start


def add_fixed_start_classes(b: MatrixBuilder, p: Problem, classes: list[np.ndarray],
                            options: tuple[np.ndarray, ...], ldef0: int, gpu0: int
                            ) -> np.ndarray:
    """x[c,s,k]: how many jobs of class c start on site s at slot k (+ unplaced slack)."""
    if not classes:
        return np.zeros(0, dtype=int)
    T = p.n_slots
    rep = np.array([cl[0] for cl in classes])
    count = np.array([len(cl) for cl in classes], dtype=float)
    assign = b.add_rows("class-assign", count, count, len(classes))
    u = b.add_cols("class-unplaced", p.unplaced_points[rep], 0.0, count, integer=True)
    b.add_entries(assign, u, 1.0)
    fx_class, fx_site, start = options
    jrep = rep[fx_class]
    cost = p.lateness_points(start + p.dur_slots[jrep], jrep)
    x = b.add_cols("class-start-count", cost, 0.0, np.inf, integer=True)  # ≤ count via assign
    b.add_entries(assign[fx_class], x, 1.0)
    col, slot = ragged(start, p.dur_slots[jrep])
    site_slot = fx_site[col] * T + slot
    b.add_entries(ldef0 + site_slot, x[col], -p.it_kw[jrep[col]])
    b.add_entries(gpu0 + site_slot, x[col], p.gpus[jrep[col]])
    return x


def add_checkpointable_jobs(b: MatrixBuilder, p: Problem, jobs: np.ndarray, ldef0: int, gpu0: int
                            ) -> tuple[np.ndarray, ...]:
    """Per job: site choice z, per-slot run r, resumes y (with overhead), lateness h."""
    T, o = p.n_slots, p.overhead_slots
    empty = np.zeros(0, dtype=int)
    if jobs.size == 0:
        return (empty,) * 7
    assign = b.add_rows("job-assign", 1.0, 1.0, len(jobs))
    u = b.add_cols("job-unplaced", p.unplaced_points[jobs], 0.0, 1.0, integer=True)
    b.add_entries(assign, u, 1.0)
    js = np.argwhere(p.allowed[jobs])  # (job position, site)
    z_pos, z_site = js[:, 0], js[:, 1]
    z = b.add_cols("job-site", np.zeros(len(js)), 0.0, 1.0, integer=True)
    b.add_entries(assign[z_pos], z, 1.0)
    first = p.release_slot[jobs[z_pos]]
    zi, slot = ragged(first, T - first)
    j_of = jobs[z_pos[zi]]
    r = b.add_cols("job-run", np.zeros(len(zi)), 0.0, 1.0, integer=True)
    b.add_entries(ldef0 + z_site[zi] * T + slot, r, -p.it_kw[j_of])
    b.add_entries(gpu0 + z_site[zi] * T + slot, r, p.gpus[j_of])
    up = b.add_rows("job-run-site-upper", -np.inf, 0.0, len(r))
    b.add_entries(up, r, 1.0)
    b.add_entries(up, z[zi], -1.0)
    work = b.add_rows("job-work", 0.0, 0.0, len(z))
    b.add_entries(work[zi], r, 1.0)
    extra = p.resume_slots[jobs[z_pos]]
    b.add_entries(work, z, -(p.dur_slots[jobs[z_pos]] + extra - o).astype(float))
    # a running job that continues on its site in slot 0 does not pay its restart overhead
    goes_on = (extra[zi] > 0) & (slot == 0) & (z_site[zi] == p.continue_site[j_of])
    b.add_entries(work[zi[goes_on]], r[goes_on], extra[zi[goes_on]].astype(float))
    if o > 0:
        y = b.add_cols("job-resume", np.zeros(len(r)), 0.0, 1.0, integer=False)
        res = b.add_rows("job-resume-lower", -np.inf, 0.0, len(r))
        b.add_entries(res, r, 1.0)
        b.add_entries(res, y, -1.0)
        has_prev = slot > first[zi]
        b.add_entries(res[has_prev], r[np.flatnonzero(has_prev) - 1], -1.0)
        b.add_entries(work[zi], y, -float(o))
        # y is exactly the segment starts: y ≤ r and y ≤ 1 − r[t−1]
        at_run = b.add_rows("job-resume-upper-run", -np.inf, 0.0, len(r))
        b.add_entries(at_run, y, 1.0)
        b.add_entries(at_run, r, -1.0)
        prev_idle = b.add_rows("job-resume-upper-idle", -np.inf, 1.0, int(has_prev.sum()))
        b.add_entries(prev_idle, y[has_prev], 1.0)
        b.add_entries(prev_idle, r[np.flatnonzero(has_prev) - 1], 1.0)
        once = b.add_rows("job-first-start-lower", 0.0, np.inf, len(z))
        b.add_entries(once[zi], y, 1.0)
        b.add_entries(once, z, -1.0)
    h = b.add_cols("job-late-slots", np.full(len(jobs), p.late_points_per_slot), 0.0, np.inf,
                   integer=False)
    late_by = slot + 1 - p.deadline_slot[j_of]
    lr = np.flatnonzero(late_by > 0)
    if lr.size:
        rows = b.add_rows("job-lateness-lower", 0.0, np.inf, lr.size)
        b.add_entries(rows, h[z_pos[zi[lr]]], 1.0)
        b.add_entries(rows, r[lr], -late_by[lr].astype(float))
    return z, jobs[z_pos], z_site, r, j_of, z_site[zi], slot


def build_fast(p: Problem, *, preemptive: bool = True,
               options: tuple[np.ndarray, ...] | None = None,
               classes: list[np.ndarray] | None = None) -> FastModel:
    """Assemble the MILP of `p` as a `FastModel` (flat sequence of add_<rule> steps).

    `preemptive=False` plans checkpointable jobs as single runs (grouped into classes like
    the others); `options` restricts the (class, site, start) columns, as column generation
    does, and `classes` passes the `job_classes` they refer to when the caller has them.
    Defaults build the full model.
    """
    b = MatrixBuilder()
    ldef0, gpu0 = (int(a[0]) for a in add_site_columns(b, p))
    everyone = np.arange(len(p.jobs))
    preempt = p.checkpointable & preemptive & (p.fixed_site == NOT_FIXED)
    if classes is None:
        classes = job_classes(p, everyone[~preempt])
    if options is None:
        options = all_start_options(p, classes)
    x = add_fixed_start_classes(b, p, classes, options, ldef0, gpu0)
    split = everyone[preempt]
    slot_cols = add_checkpointable_jobs(b, p, split, ldef0, gpu0)
    return FastModel(b.matrix(), classes, StartColumns(x, *options),
                     SlotColumns(split, *slot_cols), dict(b.blocks))


def decode(p: Problem, fm: FastModel, x: np.ndarray) -> Schedule:
    """A (possibly fractional) solution → Schedule; fractional parts are left unplaced.

    Within a class, jobs in ascending index order take the options in ascending (start,
    site) order, so equal solutions always decode to the same schedule."""
    sched = Schedule.empty(p)
    st = fm.starts
    counts = np.floor(x[st.col] + 1e-6).astype(int)
    pools = [list(cl) for cl in fm.class_jobs]
    taken = np.flatnonzero(counts > 0)
    for i in taken[np.lexsort((st.site[taken], st.start[taken]))]:
        pool = pools[st.cls[i]]
        k = int(st.start[i])
        for _ in range(min(counts[i], len(pool))):
            j = pool.pop(0)
            sched.place(j, int(st.site[i]), slice(k, k + int(p.dur_slots[j])))
    sc = fm.slots
    z_on = x[sc.site_col] > 1 - 1e-6
    r_on = x[sc.run_col] > 1 - 1e-6
    for j, s in zip(sc.site_job[z_on], sc.site_site[z_on], strict=True):
        mine = r_on & (sc.run_job == j) & (sc.run_site == s)
        sched.place(int(j), int(s), sc.run_slot[mine])
        segs = sched.segments(int(j))
        need = (p.option_slots(int(j), int(s), segs[0][0]) if segs else 0) \
            + p.overhead_slots * (len(segs) - 1)
        if sched.run[j].sum() != need:
            sched.site[j] = -1
            sched.run[j] = False
    return battery_from(p, fm.blocks, x, sched)


DISPATCH_TIME_LIMIT_S = 10.0
"""Budget of one battery dispatch (a MILP of S × T × 5 columns: milliseconds in practice)."""


def dispatch_battery(p: Problem, sched: Schedule) -> Schedule:
    """`sched` with the battery schedule that minimises the objective beside its jobs as
    they are (the model of the battery columns alone); `sched` itself when no site has a
    battery or no optimal solution is found."""
    if not p.has_battery.any():
        return sched
    beside = p.residual(np.zeros(0, dtype=int), *site_loads(p, sched))
    fm = build_fast(beside)
    best = run_highs(fm.matrix, time_limit_s=DISPATCH_TIME_LIMIT_S, mip_rel_gap=1e-9)
    if best.x is None or best.status is not SolveStatus.OPTIMAL:
        return sched
    return battery_from(beside, fm.blocks, best.x, sched.copy())


def schedule_vector(p: Problem, fm: FastModel, sched: Schedule) -> np.ndarray:
    """A feasible Schedule → a primal vector of the fast model (a MIP start; partial where
    the model cannot express a run)."""
    x = np.zeros(len(fm.matrix.c))
    job_class = class_of(len(p.jobs), fm.class_jobs)
    st = fm.starts
    key = {(int(c), int(s), int(k)): int(col) for c, s, k, col in
           zip(st.cls, st.site, st.start, st.col, strict=True)}
    u_class0, _ = fm.blocks.get("class-unplaced", (0, 0))
    first = sched.start_slot()
    for j in np.flatnonzero(job_class >= 0):
        c = job_class[j]
        col = key.get((int(c), int(sched.site[j]), int(first[j])))
        # a run the model has no column for (a checkpointable job in pieces, in a model of
        # single runs) is left out: the start is then partial, which HiGHS repairs or drops
        x[u_class0 + c if sched.site[j] < 0 or col is None else col] += 1
    sc = fm.slots
    if sc.jobs.size:
        end = sched.end_slot()
        pos = {int(j): i for i, j in enumerate(sc.jobs)}
        u0, _ = fm.blocks["job-unplaced"]
        h0, _ = fm.blocks["job-late-slots"]
        for j in sc.jobs:
            s = sched.site[j]
            if s < 0:
                x[u0 + pos[int(j)]] = 1
                continue
            x[sc.site_col[(sc.site_job == j) & (sc.site_site == s)]] = 1
            mine = (sc.run_job == j) & (sc.run_site == s)
            x[sc.run_col[mine]] = sched.run[j, sc.run_slot[mine]]
            x[h0 + pos[int(j)]] = max(0, end[j] - p.deadline_slot[j])
        if "job-resume" in fm.blocks:
            y0, _ = fm.blocks["job-resume"]
            r = x[sc.run_col]
            prev = np.concatenate(([0.0], r[:-1]))
            starts = np.concatenate(([True], (sc.run_job[1:] != sc.run_job[:-1])
                                     | (sc.run_site[1:] != sc.run_site[:-1])))
            prev[starts] = 0.0
            x[y0 + np.arange(len(r))] = np.maximum(0.0, r - prev)
    it_kw, _ = site_loads(p, sched)
    L0, n = fm.blocks["site-it-kw"]
    x[L0:L0 + n] = it_kw.ravel()
    net = sched.net_kw() if "site-battery-charge-kw" in fm.blocks else None
    grid_kw = p.base_kw + it_kw * p.pue + (0.0 if net is None else net)
    total = grid_kw * p.slot_h
    Z0, n = fm.blocks["site-zero-carbon-kwh"]
    x[Z0:Z0 + n] = np.minimum(total, p.zero_carbon_cap_kwh).ravel()
    if "site-min-short-kwh" in fm.blocks:
        M0, n = fm.blocks["site-min-short-kwh"]
        where = np.flatnonzero(p.min_facility_kwh.ravel() > 0)
        short = np.maximum(0.0, p.min_facility_kwh - total).ravel()[where]
        x[M0:M0 + n] = np.minimum(short, p.min_facility_kwh.ravel()[where])
    if "site-battery-charge-kw" in fm.blocks:
        battery_vector(p, fm.blocks, sched, grid_kw, x)
    return x

"""The one place a MILP solver is called, and the one result type every method returns."""

from __future__ import annotations

import functools
import logging
import os
import sys
import time
from dataclasses import dataclass
from enum import StrEnum

import highspy
import numpy as np
from scipy import sparse


class SolveStatus(StrEnum):
    """Solver outcome, translated from HiGHS' model status through `_HIGHS_STATUS`."""

    OPTIMAL = "optimal"
    """Proven within the requested gap."""
    FEASIBLE = "feasible"
    """A valid plan without that proof: the solver stopped at a time or work limit, or the
    plan comes from a heuristic (greedy, asap)."""
    INFEASIBLE = "infeasible"
    NO_SOLUTION = "no_solution"
    """Stopped (time limit or error) without any solution."""
    ERROR = "error"


_HIGHS_STATUS = {
    highspy.HighsModelStatus.kOptimal: SolveStatus.OPTIMAL,
    highspy.HighsModelStatus.kTimeLimit: SolveStatus.FEASIBLE,
    highspy.HighsModelStatus.kIterationLimit: SolveStatus.FEASIBLE,
    highspy.HighsModelStatus.kSolutionLimit: SolveStatus.FEASIBLE,
    highspy.HighsModelStatus.kInterrupt: SolveStatus.FEASIBLE,
    highspy.HighsModelStatus.kInfeasible: SolveStatus.INFEASIBLE,
    highspy.HighsModelStatus.kUnboundedOrInfeasible: SolveStatus.INFEASIBLE,
}


@dataclass(frozen=True)
class MatrixModel:
    """min c·x  s.t.  row_lo ≤ A x ≤ row_hi,  lb ≤ x ≤ ub,  x_i integer where `integer`."""

    c: np.ndarray
    lb: np.ndarray
    ub: np.ndarray
    integer: np.ndarray
    A: sparse.csc_matrix
    row_lo: np.ndarray
    row_hi: np.ndarray

    def with_columns(self, A: sparse.spmatrix, c: np.ndarray, lb: np.ndarray, ub: np.ndarray,
                     integer: np.ndarray) -> MatrixModel:
        """This model with more columns: their entries in the existing rows (`A`, rows ×
        new), costs, bounds and integrality."""
        return MatrixModel(np.append(self.c, c), np.append(self.lb, lb),
                           np.append(self.ub, ub), np.append(self.integer, integer),
                           sparse.hstack([self.A, A]).tocsc(), self.row_lo, self.row_hi)

    def with_rows(self, A: sparse.spmatrix, lo: np.ndarray, hi: np.ndarray) -> MatrixModel:
        """This model with more rows: their entries (`A`, new × columns) and bounds."""
        return MatrixModel(self.c, self.lb, self.ub, self.integer,
                           sparse.vstack([self.A, A]).tocsc(),
                           np.concatenate([self.row_lo, lo]), np.concatenate([self.row_hi, hi]))


@dataclass(frozen=True)
class SolverResult:
    """Status, primal values (None without a solution), objective, bound, seconds, and the
    row duals of an LP solved to optimality (else None)."""

    status: SolveStatus
    x: np.ndarray | None
    objective: float
    bound: float
    seconds: float
    y: np.ndarray | None = None


@functools.cache
def _quiet_highs() -> None:
    """HiGHS prints its banner on stdout when a process makes its first `Highs` object; make
    that first one with stdout pointed at /dev/null, so no banner lands in a plan's output."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 1)
            highspy.Highs()
    finally:
        os.dup2(saved, 1)
        os.close(saved)


def new_highs() -> highspy.Highs:
    """A silent HiGHS instance, single-threaded unless told otherwise."""
    _quiet_highs()
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    return h


def _highs_lp(model: MatrixModel) -> highspy.HighsLp:
    """The continuous LP of `model` in HiGHS' column-wise form."""
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = len(model.c), model.A.shape[0]
    lp.col_cost_, lp.col_lower_, lp.col_upper_ = model.c, model.lb, model.ub
    lp.row_lower_, lp.row_upper_ = model.row_lo, model.row_hi
    A = model.A.tocsc()
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_, lp.a_matrix_.index_, lp.a_matrix_.value_ = A.indptr, A.indices, A.data
    return lp


def run_highs(model: MatrixModel, *, time_limit_s: float, relax: bool = False,
              mip_rel_gap: float = 1e-4, start: np.ndarray | None = None,
              threads: int = 1, max_nodes: int | None = None) -> SolverResult:
    """Solve a `MatrixModel` with HiGHS (as an LP when `relax`), optionally warm-started;
    `max_nodes` bounds the branch-and-bound work (a limit that is the same on any machine)."""
    t0 = time.perf_counter()
    lp = _highs_lp(model)
    if not relax and model.integer.any():
        lp.integrality_ = [highspy.HighsVarType.kInteger if f else highspy.HighsVarType.kContinuous
                           for f in model.integer]
    h = new_highs()
    h.setOptionValue("time_limit", max(0.05, float(time_limit_s)))
    h.setOptionValue("mip_rel_gap", mip_rel_gap)
    h.setOptionValue("threads", threads)
    if max_nodes is not None:
        h.setOptionValue("mip_max_nodes", int(max_nodes))
    h.passModel(lp)
    if start is not None and not relax:
        sol = highspy.HighsSolution()
        sol.col_value = list(map(float, start))
        h.setSolution(sol)
    h.run()
    status = _HIGHS_STATUS.get(h.getModelStatus(), SolveStatus.ERROR)
    info = h.getInfo()
    has_x = info.primal_solution_status == 2  # kSolutionStatusFeasible
    if status is SolveStatus.FEASIBLE and not has_x:
        status = SolveStatus.NO_SOLUTION
    x = np.array(h.getSolution().col_value) if has_x else None
    objective = float(info.objective_function_value) if has_x else float("inf")
    y = None
    if relax:
        bound = objective if status is SolveStatus.OPTIMAL else -float("inf")
        if status is SolveStatus.OPTIMAL:
            y = np.array(h.getSolution().row_dual)
    else:
        bound = float(info.mip_dual_bound)
        if status is SolveStatus.OPTIMAL and not np.isfinite(bound):
            bound = objective
    return SolverResult(status, x, objective, bound, time.perf_counter() - t0, y)


def run_pyomo(model: object, *, time_limit_s: float, mip_rel_gap: float = 1e-4) -> SolverResult:
    """Solve a Pyomo model with HiGHS through Pyomo's interface (values stay on the model).

    `x` of the result is an empty array when a solution was loaded (read it from the model).
    """
    import pyomo.environ as pyo
    from pyomo.opt import TerminationCondition as TC

    t0 = time.perf_counter()
    _quiet_highs()
    opt = pyo.SolverFactory("appsi_highs")
    # the legacy solve() resets config.time_limit/load_solution from its own arguments
    res = opt.solve(model, timelimit=max(0.05, float(time_limit_s)), load_solutions=False,
                    options={"mip_rel_gap": mip_rel_gap, "threads": 1, "output_flag": False})
    tc = res.solver.termination_condition
    core_log = logging.getLogger("pyomo.core")
    level = core_log.level
    core_log.setLevel(logging.ERROR)  # a timed-out solve reads "aborted, but has a solution"
    try:
        model.solutions.load_from(res)  # type: ignore[attr-defined]
        has_x = True
    except (ValueError, RuntimeError, AttributeError):
        has_x = False
    finally:
        core_log.setLevel(level)
    status = {TC.optimal: SolveStatus.OPTIMAL, TC.maxTimeLimit: SolveStatus.FEASIBLE,
              TC.infeasible: SolveStatus.INFEASIBLE}.get(tc, SolveStatus.ERROR)
    if status is SolveStatus.FEASIBLE and not has_x:
        status = SolveStatus.NO_SOLUTION
    objective = float(pyo.value(next(model.component_objects(pyo.Objective)))) if has_x \
        else float("inf")
    bound = res.problem.lower_bound
    bound = float(bound) if bound is not None and np.isfinite(float(bound)) else -float("inf")
    return SolverResult(status, np.zeros(0) if has_x else None, objective, bound,
                        time.perf_counter() - t0)


DUAL_SIMPLEX, PRIMAL_SIMPLEX = 1, 4
"""HiGHS `simplex_strategy` values."""


class LpSession:
    """An LP kept in HiGHS between solves, so added columns re-solve from the last basis
    (the restricted master of column generation)."""

    def __init__(self, model: MatrixModel) -> None:
        self.h = new_highs()
        self.h.setOptionValue("threads", 1)
        # the first solve starts from no basis: dual simplex (several times faster than
        # primal on the masters of the benchmarks); later, each change picks the simplex
        # its basis stays feasible for
        self.h.setOptionValue("simplex_strategy", DUAL_SIMPLEX)
        self.h.passModel(_highs_lp(model))

    def add_columns(self, cost: np.ndarray, lb: np.ndarray, ub: np.ndarray,
                    A: sparse.csc_matrix) -> None:
        """Append columns (A has one column per new variable, all rows)."""
        A = A.tocsc()
        # added columns keep the basis primal feasible: primal simplex re-solves from it
        # (several times faster than dual on the 10,000-job benchmark)
        self.h.setOptionValue("simplex_strategy", PRIMAL_SIMPLEX)
        self.h.addCols(len(cost), cost, lb, ub, A.nnz, A.indptr[:-1].astype(np.int32),
                       A.indices.astype(np.int32), A.data)

    @property
    def num_rows(self) -> int:
        return int(self.h.getNumRow())

    @property
    def num_cols(self) -> int:
        return int(self.h.getNumCol())

    def delete_columns(self, cols: np.ndarray) -> None:
        """Remove columns `cols`; the others keep their order (and close up)."""
        # the duals stay feasible for the columns left: dual simplex re-solves
        self.h.setOptionValue("simplex_strategy", DUAL_SIMPLEX)
        self.h.deleteCols(len(cols), cols.astype(np.int32))

    def set_bounds(self, cols: np.ndarray, lb: np.ndarray, ub: np.ndarray) -> None:
        """Change the bounds of columns `cols` (the next solve starts from the last basis)."""
        self.h.setOptionValue("simplex_strategy", DUAL_SIMPLEX)  # the basis stays dual feasible
        self.h.changeColsBounds(len(cols), cols.astype(np.int32), lb.astype(float),
                                ub.astype(float))

    def solve(self, time_limit_s: float) -> tuple[SolveStatus, float, np.ndarray, np.ndarray]:
        """(status, objective, primal x, row duals y with reduced cost = c − Aᵀy)."""
        # HiGHS' clock runs across the session's solves: the limit is on its total
        self.h.setOptionValue("time_limit", self.h.getRunTime() + max(0.05, time_limit_s))
        self.h.run()
        status = _HIGHS_STATUS.get(self.h.getModelStatus(), SolveStatus.ERROR)
        sol = self.h.getSolution()
        return (status, float(self.h.getInfo().objective_function_value),
                np.array(sol.col_value), np.array(sol.row_dual))

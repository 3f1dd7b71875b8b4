"""`Outcome`: what every planning method returns (a schedule, its evaluation, how it was
obtained and how good it is)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from scheduler.core.colgen import Columns, Prices
from scheduler.core.schedule import Evaluation, Schedule
from scheduler.core.solver import SolveStatus


@dataclass(frozen=True)
class Outcome:
    """A schedule, its evaluation, and how it was obtained."""

    schedule: Schedule
    evaluation: Evaluation
    source: str
    """What produced the schedule: `milp`, `milp:lp-rounding`, `milp:parts`, `greedy`, …"""
    steps: tuple[str, ...]
    """Improvements applied after it, in order (`repair`, `relocate`, `split`, `restore`)."""
    status: SolveStatus
    bound: float
    """Best lower bound on the objective (−inf when none was computed)."""
    build_seconds: float
    """Building the model: the full matrix, or the column generation of large instances."""
    solve_seconds: float
    prices: Prices | None = None
    """The capacity rows' prices of the plan's LP (the full model's duals, or the column
    generation's), which start the next re-plan's column generation warm."""
    floor: float = 0.0
    """Points every plan pays (`Problem.unavoidable_points`): the gap is measured above them."""
    columns: Columns | None = None
    """The column generation's columns in use (large instances), which start the next
    re-plan's master warm."""

    @property
    def method(self) -> str:
        """The label users see: the source with its steps, e.g. `milp:parts+relocate`."""
        return "+".join((self.source, *self.steps))

    @property
    def objective(self) -> float:
        return self.evaluation.objective

    @property
    def gap(self) -> float:
        """(objective − bound) / |objective − floor|; inf without a bound."""
        return relative_gap(self.objective - self.floor, self.bound - self.floor)


def relative_gap(objective: float, bound: float) -> float:
    """(objective − bound) / |objective|, 0 when they agree to rounding, inf without a bound."""
    if not np.isfinite(bound):
        return float("inf")
    diff = objective - bound
    if diff <= 1e-9 * max(1.0, abs(objective)):
        return 0.0
    return diff / max(abs(objective), 1e-9)

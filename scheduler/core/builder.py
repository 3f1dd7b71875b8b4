"""`MatrixBuilder`: columns and rows of a MILP accumulated as flat arrays (the `add_<rule>`
steps of the fast builder fill it), then one sparse matrix for HiGHS."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import sparse

from scheduler.core.solver import MatrixModel


@dataclass
class MatrixBuilder:
    """Accumulates columns and rows as flat arrays (the `add_<rule>` steps fill it)."""

    c: list[np.ndarray] = field(default_factory=list)
    lb: list[np.ndarray] = field(default_factory=list)
    ub: list[np.ndarray] = field(default_factory=list)
    integer: list[np.ndarray] = field(default_factory=list)
    rows: list[np.ndarray] = field(default_factory=list)
    cols: list[np.ndarray] = field(default_factory=list)
    vals: list[np.ndarray] = field(default_factory=list)
    row_lo: list[np.ndarray] = field(default_factory=list)
    row_hi: list[np.ndarray] = field(default_factory=list)
    n_cols: int = 0
    n_rows: int = 0
    blocks: dict[str, tuple[int, int]] = field(default_factory=dict)

    def add_cols(self, name: str, cost: np.ndarray, lb: np.ndarray | float,
                 ub: np.ndarray | float, integer: bool) -> np.ndarray:
        n = len(cost)
        self.c.append(np.asarray(cost, dtype=float))
        self.lb.append(np.broadcast_to(np.asarray(lb, dtype=float), (n,)).copy())
        self.ub.append(np.broadcast_to(np.asarray(ub, dtype=float), (n,)).copy())
        self.integer.append(np.full(n, integer))
        idx = np.arange(self.n_cols, self.n_cols + n)
        self.blocks[name] = (self.n_cols, n)
        self.n_cols += n
        return idx

    def add_rows(self, name: str, lo: np.ndarray | float, hi: np.ndarray | float, n: int
                 ) -> np.ndarray:
        self.row_lo.append(np.broadcast_to(np.asarray(lo, dtype=float), (n,)).copy())
        self.row_hi.append(np.broadcast_to(np.asarray(hi, dtype=float), (n,)).copy())
        idx = np.arange(self.n_rows, self.n_rows + n)
        self.blocks[name] = (self.n_rows, n)
        self.n_rows += n
        return idx

    def add_entries(self, rows: np.ndarray, cols: np.ndarray, vals: np.ndarray | float) -> None:
        rows, cols = np.asarray(rows), np.asarray(cols)
        self.rows.append(rows)
        self.cols.append(cols)
        self.vals.append(np.broadcast_to(np.asarray(vals, dtype=float), rows.shape).copy())

    def matrix(self) -> MatrixModel:
        A = sparse.coo_matrix((np.concatenate(self.vals),
                               (np.concatenate(self.rows), np.concatenate(self.cols))),
                              shape=(self.n_rows, self.n_cols)).tocsc()
        return MatrixModel(np.concatenate(self.c), np.concatenate(self.lb),
                           np.concatenate(self.ub), np.concatenate(self.integer), A,
                           np.concatenate(self.row_lo), np.concatenate(self.row_hi))

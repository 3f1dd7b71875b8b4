"""Gradient-boosting settings and builders shared by the forecast models (scikit-learn).

Every fit and prediction runs on `ModelConfig.threads` OpenMP threads (default 1): the
machines these run on are small and shared.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from threadpoolctl import threadpool_limits


@dataclass(frozen=True)
class ModelConfig:
    """Gradient-boosting settings (sklearn names).

    The defaults (small regularised trees) were chosen over sklearn-like ones (200 rounds,
    31 leaves, 40 rows per leaf, no L2) by the pinball loss of monthly-refit carbon
    forecasts of Jul–Dec 2022, before every test year (Kyushu 9.3 against 10.3 gCO2/kWh).
    """

    max_iter: int = 100
    learning_rate: float = 0.05
    max_leaf_nodes: int = 7
    min_samples_leaf: int = 200
    l2_regularization: float = 1.0
    seed: int = 0
    threads: int = 1
    """OpenMP threads per fit; 1 avoids spin-wait slowdowns on shared small machines."""


@contextmanager
def limited_threads(threads: int = 1) -> Iterator[None]:
    """Run the enclosed fits/predictions on at most `threads` OpenMP threads."""
    with threadpool_limits(threads):
        yield


def quantile_regressor(cfg: ModelConfig, quantile: float,
                       n_rows: int) -> HistGradientBoostingRegressor:
    """A quantile booster; leaves shrink for small training sets (≥ 5 rows, ≤ n/20)."""
    return HistGradientBoostingRegressor(
        loss="quantile", quantile=quantile, max_iter=cfg.max_iter,
        learning_rate=cfg.learning_rate, max_leaf_nodes=cfg.max_leaf_nodes,
        min_samples_leaf=min(cfg.min_samples_leaf, max(5, n_rows // 20)),
        l2_regularization=cfg.l2_regularization, random_state=cfg.seed)


def event_classifier(cfg: ModelConfig) -> HistGradientBoostingClassifier:
    """A binary booster (log loss) whose `predict_proba` is the event probability."""
    return HistGradientBoostingClassifier(
        max_iter=cfg.max_iter, learning_rate=cfg.learning_rate,
        max_leaf_nodes=cfg.max_leaf_nodes, min_samples_leaf=cfg.min_samples_leaf,
        l2_regularization=cfg.l2_regularization, random_state=cfg.seed)

"""The hurdle model's event probability is recalibrated on cross-fitted folds of months.

An overconfident event classifier makes the mixture's median nonzero on slots that do not
curtail, and the point forecast then loses to the zero forecast (Tohoku 2023, before this
calibration: slots given P > 0.5 curtailed 36 % of the time). Here a deliberately
flexible classifier overfits noise: the true event probability never exceeds 0.3, so no
median should be nonzero. Without calibration about 4 % of slots get P > 0.5 and the p50
loses to zero on MAE; with it, the probabilities are near the truth and the p50 does not.
"""

from __future__ import annotations

import numpy as np
import pytest

from forecasts.models.boosting import ModelConfig
from forecasts.models.hurdle import event_probability, fit_hurdle, hurdle_quantiles, platt

FLEXIBLE = ModelConfig(max_iter=300, learning_rate=0.2, max_leaf_nodes=31,
                       min_samples_leaf=5, l2_regularization=0.0)
"""An event classifier with little regularisation (overconfident on few events)."""
SLOTS_PER_MONTH = 720


def sample(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(features, MW, month of each row, true event probability): P = 0.3 when the first
    feature is positive, else 0.02; the other eleven features are noise."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 12))
    p = np.where(x[:, 0] > 0, 0.3, 0.02)
    event = rng.random(n) < p
    mw = np.where(event, rng.uniform(100.0, 1000.0, n), 0.0)
    return x, mw, np.arange(n) // SLOTS_PER_MONTH, p


@pytest.fixture(scope="module")
def fitted() -> dict[str, object]:
    x, mw, months, _ = sample(3000, seed=1)
    x_new, mw_new, _, p_true = sample(20_000, seed=2)
    raw = fit_hurdle(x, mw, ModelConfig(), FLEXIBLE)
    calibrated = fit_hurdle(x, mw, ModelConfig(), FLEXIBLE, months=months)
    return {"raw": raw, "calibrated": calibrated, "x": x_new, "mw": mw_new, "p": p_true}


def test_calibrated_probability_is_not_overconfident(fitted: dict) -> None:
    x, mw = fitted["x"], fitted["mw"]
    observed = mw > 1.0
    brier = {k: float(np.mean((event_probability(fitted[k], x) - observed) ** 2))
             for k in ("raw", "calibrated")}
    truth = float(np.mean((fitted["p"] - observed) ** 2))
    assert fitted["calibrated"].calibration is not None
    assert brier["calibrated"] < brier["raw"] - 0.01
    assert brier["calibrated"] < truth + 0.015
    p = event_probability(fitted["calibrated"], x)
    assert np.mean(p > 0.5) < 0.005  # the truth is never above 0.3
    assert abs(p.mean() - observed.mean()) < 0.02


def test_calibrated_median_does_not_lose_to_zero(fitted: dict) -> None:
    x, mw = fitted["x"], fitted["mw"]
    zero_mae = float(np.mean(mw))
    p50 = hurdle_quantiles(fitted["calibrated"], x, (0.5,))[:, 0]
    raw_p50 = hurdle_quantiles(fitted["raw"], x, (0.5,))[:, 0]
    assert np.mean(np.abs(raw_p50 - mw)) > zero_mae * 1.03  # the failure being fixed
    assert np.mean(np.abs(p50 - mw)) <= zero_mae * 1.005


def test_platt_keeps_a_calibrated_probability() -> None:
    rng = np.random.default_rng(3)
    p = rng.uniform(0.01, 0.99, 50_000)
    slope, intercept = platt(p, rng.random(p.size) < p)
    assert slope == pytest.approx(1.0, abs=0.05)
    assert intercept == pytest.approx(0.0, abs=0.05)

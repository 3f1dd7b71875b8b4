"""Forecasting curtailment (MW) and carbon intensity (gCO2/kWh) per area from history.

Day-ahead and intraday issue rules (`features`), baselines (`baselines`), a quantile
gradient-boosting model (`quantile_model`) and error metrics (`metrics`).
"""

from forecasts.models.baselines import BASELINES, baseline_forecast, residual_quantiles
from forecasts.models.features import DAY_AHEAD, INTRADAY, IssueRule, add_targets
from forecasts.models.metrics import mae, pinball_loss, quantile_scores
from forecasts.models.quantile_model import (
    ModelConfig,
    QuantileModel,
    fit_quantile_model,
    predict,
    to_forecast,
)

__all__ = [
    "BASELINES",
    "DAY_AHEAD",
    "INTRADAY",
    "IssueRule",
    "ModelConfig",
    "QuantileModel",
    "add_targets",
    "baseline_forecast",
    "fit_quantile_model",
    "mae",
    "pinball_loss",
    "predict",
    "quantile_scores",
    "residual_quantiles",
    "to_forecast",
]

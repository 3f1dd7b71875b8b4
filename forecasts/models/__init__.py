"""Forecasting curtailment (MW) and carbon intensity (gCO2/kWh) per area from history.

Day-ahead and intraday issue rules and leakage-free features (`features`, with the
Japanese calendar of `calendar`), trivial forecasts (`baselines`: seasonal-naive,
persistence, climatology), the quantile model (`quantile_model`: relative form for carbon,
the two-part event model of `hurdle` for curtailment), rolling-origin evaluation
(`backtest`) and error metrics (`metrics`).
"""

from forecasts.models.backtest import choose_threshold, rolling_forecast
from forecasts.models.baselines import (
    BASELINES,
    baseline_forecast,
    climatology_forecast,
    fit_climatology,
    residual_quantiles,
)
from forecasts.models.features import CURTAILED_MW, DAY_AHEAD, INTRADAY, IssueRule, add_targets
from forecasts.models.metrics import (
    brier_score,
    energy_weighted_mae,
    event_scores,
    mae,
    pinball_loss,
    quantile_scores,
)
from forecasts.models.quantile_model import (
    ModelConfig,
    QuantileModel,
    fit_quantile_model,
    predict,
    predict_event_probability,
    to_forecast,
)

__all__ = [
    "BASELINES",
    "CURTAILED_MW",
    "DAY_AHEAD",
    "INTRADAY",
    "IssueRule",
    "ModelConfig",
    "QuantileModel",
    "add_targets",
    "baseline_forecast",
    "brier_score",
    "choose_threshold",
    "climatology_forecast",
    "energy_weighted_mae",
    "event_scores",
    "fit_climatology",
    "fit_quantile_model",
    "mae",
    "pinball_loss",
    "predict",
    "predict_event_probability",
    "quantile_scores",
    "residual_quantiles",
    "rolling_forecast",
    "to_forecast",
]

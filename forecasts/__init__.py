"""Grid signals: the `Forecast` type, its readers, providers and forecasting models."""

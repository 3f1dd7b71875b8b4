"""Grid signals: the `Forecast` type (`forecast`), `forecast.csv` (`csv_file`), the CLI and plots.

By concern: `sources/` (grid data files and their parsers), `carbon/` (carbon from the mix
and the planner signals), `synthetic/` (synthetic grids), `models/` (forecasting models),
`providers/` (live and file providers, their HTTP helper and cache).
"""

"""Synthetic area grids from physics and published figures: the grid (`grid`), its per-area
parameters (`areas`) and clear-sky irradiance (`clearsky`)."""

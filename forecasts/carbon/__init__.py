"""Carbon from the generation mix: emission factors, average and marginal intensity, and the
planner signals (carbon, curtailment, price) derived from a tidy grid table."""

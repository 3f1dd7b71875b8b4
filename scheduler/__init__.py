"""The online system: optimisation core, planner, Kubernetes adapter, extender, DR, metrics."""

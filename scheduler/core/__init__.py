"""The optimisation core: Problem → Plan. Imports nothing from Kubernetes, HTTP or metrics."""

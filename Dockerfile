# syntax=docker/dockerfile:1
# The wattbit image the Helm chart (helm/wattbit) runs:
#   docker build -t <registry>/wattbit:0.1.0 .
# Stage 1 builds wheels of wattbit and of every dependency, pinned by constraints.txt;
# stage 2 installs them from those wheels only (no index, no compiler) and runs as non-root.
# For reproducible builds pin the base image by digest: --build-arg PYTHON_IMAGE=python:3.11-slim@sha256:…
ARG PYTHON_IMAGE=python:3.11-slim

# --- build --------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY constraints.txt pyproject.toml README.md ./
COPY scheduler ./scheduler
COPY forecasts ./forecasts
COPY policies ./policies
COPY simulations ./simulations
COPY inputs ./inputs
RUN pip wheel --wheel-dir /wheels -c constraints.txt . \
    && cp constraints.txt /wheels/constraints.txt

# --- runtime ------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE}
# The root file system is read-only in the chart; /tmp is its only writable path.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HOME=/tmp \
    MPLCONFIGDIR=/tmp/matplotlib \
    NUMBA_CACHE_DIR=/tmp/numba
# The wheels are bind-mounted from the build stage, so they never land in a layer.
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-index --find-links=/wheels -c /wheels/constraints.txt wattbit \
    && groupadd --system --gid 65532 wattbit \
    && useradd --system --uid 65532 --gid 65532 --no-create-home --home-dir /tmp \
       --shell /usr/sbin/nologin wattbit
# Numeric, so Kubernetes can verify runAsNonRoot without reading /etc/passwd.
USER 65532:65532
WORKDIR /tmp
# 8888: extender (POST /filter, /prioritize, GET /healthz, /readyz); 9090: /metrics, /v1/dr
EXPOSE 8888 9090
ENTRYPOINT ["wattbit"]
CMD ["serve", "--config", "/etc/wattbit/config.yaml"]

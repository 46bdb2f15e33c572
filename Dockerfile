# syntax=docker/dockerfile:1
# The Crontopus server image: the console is built, every distribution is turned into a wheel,
# and only the wheels are installed into a slim runtime that runs as an unprivileged user.
#   docker build -t crontopus .          # then: docker compose up (compose.yaml)

ARG PYTHON_IMAGE=python:3.11-slim-bookworm
ARG NODE_IMAGE=node:20-bookworm-slim

# 1. The web console (web/dist).
FROM ${NODE_IMAGE} AS console
WORKDIR /src/web
COPY web/package.json web/package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error
COPY web/ ./
COPY docs/schema.graphql /src/docs/schema.graphql
RUN npm run build -- --logLevel warn

# 2. Wheels of every distribution and of their dependencies, pinned by constraints.txt.
FROM ${PYTHON_IMAGE} AS wheels
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PIP_CONSTRAINT=/src/constraints.txt
WORKDIR /src
COPY constraints.txt pyproject.toml README.md VERSION LICENSE ./
COPY core/ core/
COPY drivers/ drivers/
COPY agent/ agent/
COPY clients/ clients/
COPY migrations/ migrations/
COPY server/ server/
# The server wheel carries the console and the agent's wheels (for /install/), as `make dist`
# builds it: the agent's distributions first, then the server and every dependency.
COPY --from=console /src/web/dist web/dist
RUN pip wheel --no-deps --wheel-dir /wheels ./core ./drivers ./agent \
    && CRONTOPUS_AGENT_WHEELS=/wheels pip wheel --find-links /wheels --wheel-dir /wheels \
        ./server ./clients

# 3. The runtime: the wheels only, no compiler, no source tree.
FROM ${PYTHON_IMAGE} AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    CRONTOPUS_DATA_DIR=/var/lib/crontopus \
    CRONTOPUS_LOG_FORMAT=json
RUN groupadd --system --gid 10001 crontopus \
    && useradd --system --uid 10001 --gid crontopus --home-dir /var/lib/crontopus \
        --shell /usr/sbin/nologin crontopus \
    && install -d -o crontopus -g crontopus -m 0700 /var/lib/crontopus /var/lib/crontopus/git
# No index: the only versions pip can see are the wheels stage 2 built under constraints.txt.
# hadolint ignore=DL3013
RUN --mount=type=bind,from=wheels,source=/wheels,target=/wheels \
    pip install --no-index --find-links /wheels crontopus-server crontopus-cli
COPY --chmod=0755 docker/entrypoint.sh /usr/local/bin/crontopus-entrypoint
USER 10001:10001
WORKDIR /var/lib/crontopus
VOLUME ["/var/lib/crontopus", "/var/lib/crontopus/git"]
EXPOSE 8080
# /health is liveness: it answers while the process serves, whatever the database says.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8080/health', timeout=4).status != 200)"]
ENTRYPOINT ["crontopus-entrypoint"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8080"]

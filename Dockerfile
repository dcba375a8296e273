# syntax=docker/dockerfile:1
# One image for every canyu role (init, worker, sink, replay, health): the
# compose file picks the role with `command:`.

# The dashboard's chart library from npm, which the app serves itself (no CDN at run time).
FROM node:20-slim AS assets
WORKDIR /src/dashboard
COPY dashboard/package.json dashboard/package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund


FROM python:3.11-slim AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

WORKDIR /src
# README.md* is a wildcard so the build works whether or not the file exists
# (pyproject names it as the readme).
COPY pyproject.toml README.md* ./
COPY canyu/ canyu/
COPY canyu_runtime/ canyu_runtime/
COPY canyu_cli/ canyu_cli/
COPY producers/ producers/
COPY streams/ streams/
COPY models/ models/
COPY sinks/ sinks/
COPY queries/ queries/
COPY dashboard/ dashboard/
COPY --from=assets /src/dashboard/node_modules dashboard/node_modules
RUN pip install .


FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PATH=/opt/venv/bin:$PATH

RUN groupadd --system --gid 10001 canyu \
 && useradd --system --uid 10001 --gid canyu --create-home --home-dir /home/canyu --shell /usr/sbin/nologin canyu

COPY --from=build /opt/venv /opt/venv

USER canyu
# Writable by the canyu user: CANYU_HOME (~/.canyu) and Faust's table data dir
# (relative to the working directory) both land here.
WORKDIR /home/canyu

ENTRYPOINT ["canyu"]
CMD ["--help"]

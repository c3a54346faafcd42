# syntax=docker/dockerfile:1
# connector-sync: multi-stage build on Node 24; the final image holds only the
# compiled code, production dependencies, config/, sql/ and console/ (the ops
# console's page), and runs as the
# unprivileged `node` user under tini (so signals reach Node, which is not PID 1).
#
# BASE_IMAGE is the only thing the container test changes: it builds this file
# on a Debian bookworm + Node 24 base made locally (scripts/container.ts), since
# no registry can be reached there. The official Debian-based image is the
# default so the shipped image and the tested one share glibc, Debian's tini
# (/usr/bin/tini) and the `node` user (uid/gid 1000).
ARG BASE_IMAGE=docker.io/library/node:24-bookworm-slim

FROM ${BASE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

FROM ${BASE_IMAGE} AS production-deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

FROM ${BASE_IMAGE}
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production
# A small young generation: a pass over 10,000 deployments allocates page after
# page of short-lived JSON, and V8's default lets that garbage push peak RSS to
# ~210 MB; with 2 MB semi-spaces it stays ~145 MB for ~0.2 s more CPU
# (docs/benchmarks.md). The benchmarks read this line, so they measure what ships.
ENV NODE_OPTIONS="--max-semi-space-size=2"
WORKDIR /app
# Runs with a read-only root filesystem in Kubernetes: nothing is written under /app.
COPY --from=production-deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY config ./config
COPY sql ./sql
COPY console ./console
# The base's `node` user is uid/gid 1000 (the manifests' runAsUser).
USER 1000:1000
EXPOSE 8080
# tini is PID 1: it forwards SIGTERM/SIGINT to Node and reaps zombies; Node's
# own handlers then drain in-flight calls (a second signal exits at once).
ENTRYPOINT ["/usr/bin/tini", "--", "node", "dist/cli/bin.js"]
CMD ["run"]

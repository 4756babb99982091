# syntax=docker/dockerfile:1
# sf-processor image. Build context: the repository root (.dockerignore keeps it to the sources).
#
#   docker build -t sfprocessor .            (or: docker compose build sf-processor)
#
# Layout under /usr/local/sysflow (upstream's prefix; see docs/docker.md):
#   app/       the program: dist/, production node_modules/, resources/ (ECS index template)
#   bin/       sfprocessor, sysprint, entrypoint.sh
#   conf/      pipelines/*.json, and pipeline.json = pipelines/pipeline.syslog.json (the default)
#   policies/  policies/ (runtimeintegrity, distribution); pipelines name them relative to the
#              working directory /usr/local/sysflow
#   plugins/, drivers/   -plugdir / -driverdir (empty; mount plugin modules there)
#   node_modules/sfprocessor -> app, so that plugin modules can import 'sfprocessor/plugin'
# /sock is the socket directory shared with the collector; /var/lib/sysflow is writable for file
# exports and spools. The processor runs as sysflow (uid 1001), which owns only those two.

ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS build
# python3, make and g++: node-gyp, for dependencies with native addons
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
# node-gyp compiles against the image's own Node headers instead of downloading them
ENV npm_config_nodedir=/usr/local
WORKDIR /src
COPY . .
# tsc straight away (not `npm run build`), so that build steps for other parts of the repository
# (the C collector) are not needed here. cp -L turns `file:` dependencies (symlinks) into copies.
RUN --mount=type=cache,target=/root/.npm \
    npm ci --no-audit --no-fund \
 && npx tsc -p tsconfig.json \
 && npm prune --omit=dev --no-audit --no-fund \
 && mkdir /out \
 && cp -rL package.json dist node_modules resources /out/

FROM ${NODE_IMAGE}
ENV NODE_ENV=production
RUN groupadd --system --gid 1001 sysflow \
 && useradd --system --uid 1001 --gid sysflow --home-dir /var/lib/sysflow --no-create-home --shell /usr/sbin/nologin sysflow \
 && install -d -o sysflow -g sysflow -m 0750 /sock /var/lib/sysflow \
 && install -d -m 0755 /usr/local/sysflow/bin /usr/local/sysflow/plugins /usr/local/sysflow/drivers /usr/local/sysflow/node_modules
COPY --from=build /out/ /usr/local/sysflow/app/
COPY pipelines/ /usr/local/sysflow/conf/
COPY pipelines/pipeline.syslog.json /usr/local/sysflow/conf/pipeline.json
COPY policies/ /usr/local/sysflow/policies/
COPY --chmod=0755 docker/sf-processor/entrypoint.sh /usr/local/sysflow/bin/entrypoint.sh
RUN chmod 0755 /usr/local/sysflow/app/dist/core/cli/sfprocessor.js /usr/local/sysflow/app/dist/core/cli/sysprint.js \
 && ln -s ../app/dist/core/cli/sfprocessor.js /usr/local/sysflow/bin/sfprocessor \
 && ln -s ../app/dist/core/cli/sysprint.js /usr/local/sysflow/bin/sysprint \
 && ln -s ../app /usr/local/sysflow/node_modules/sfprocessor
ENV PATH=/usr/local/sysflow/bin:$PATH
WORKDIR /usr/local/sysflow
USER sysflow
VOLUME ["/sock"]
ENTRYPOINT ["/usr/local/sysflow/bin/entrypoint.sh"]

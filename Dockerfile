# syntax=docker/dockerfile:1
# One image for every Konorkestra service. The command names the service (scripts/pack-entrypoint.sh):
#   docker run --rm konorkestra:local admin | config-loader | monitor | analytics
#   docker run --rm konorkestra:local service1 | service2 | service3 | demo
#   docker run --rm -it konorkestra:local kon status
# docker-compose.yml runs the whole stack from it. Build: docker build -t konorkestra:local .
ARG NODE_IMAGE=node:20-slim

# Every workspace's manifest first, so `npm ci` stays cached while only sources change.
FROM ${NODE_IMAGE} AS manifests
WORKDIR /src
COPY package.json package-lock.json ./
COPY proto/package.json proto/
COPY sdk/package.json sdk/
COPY config-loader/package.json config-loader/
COPY heartbeat/package.json heartbeat/
COPY analytics/package.json analytics/
COPY admin/package.json admin/
COPY servicepool/package.json servicepool/
COPY cli/package.json cli/
COPY testkit/package.json testkit/
COPY bench/package.json bench/

# Build: all dependencies, then `npm run build` (generated code, tsc --build, dashboard assets).
FROM manifests AS build
# No install script is needed: argon2 loads its prebuilt binary at run time.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY . .
RUN npm run build

# Production dependencies of the workspaces the image runs (not testkit, not bench).
FROM manifests AS prod-deps
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
      -w @konorkestra/proto -w @konorkestra/sdk -w @konorkestra/config-loader \
      -w @konorkestra/heartbeat -w @konorkestra/analytics -w @konorkestra/admin \
      -w @konorkestra/servicepool -w @konorkestra/cli

FROM ${NODE_IMAGE} AS runtime
# git: the config-loader reads commit and author of the config folder, the admin's config write
# API commits into it. The folder is mounted from the host (owned by someone else), hence
# safe.directory. tini is not needed: compose runs each service with init: true.
RUN apt-get update \
  && apt-get install -y --no-install-recommends git ca-certificates \
  && rm -rf /var/lib/apt/lists/* \
  && git config --system --add safe.directory '*' \
  && groupadd --system --gid 10001 kon \
  && useradd --system --uid 10001 --gid kon --home-dir /home/kon --create-home --shell /usr/sbin/nologin kon \
  && mkdir -p /var/lib/kon/admin /var/lib/kon/state /run/kon/secrets /config \
  && chown -R kon:kon /var/lib/kon /config \
  && chmod 0700 /var/lib/kon/admin /var/lib/kon/state
ENV NODE_ENV=production
WORKDIR /app
# Manifests and production node_modules (with any a workspace nests), then what the build made.
COPY --from=prod-deps /src/ ./
COPY --from=build /src/proto/dist ./proto/dist
COPY --from=build /src/sdk/dist ./sdk/dist
COPY --from=build /src/config-loader/dist ./config-loader/dist
COPY --from=build /src/heartbeat/dist ./heartbeat/dist
COPY --from=build /src/analytics/dist ./analytics/dist
COPY --from=build /src/analytics/migrations ./analytics/migrations
COPY --from=build /src/analytics/public ./analytics/public
COPY --from=build /src/admin/dist ./admin/dist
COPY --from=build /src/admin/migrations ./admin/migrations
COPY --from=build /src/servicepool/dist ./servicepool/dist
COPY --from=build /src/cli/dist ./cli/dist
COPY --from=build /src/examples/config ./examples/config
COPY --chmod=0755 scripts/pack-entrypoint.sh scripts/pack-stack-init.sh ./scripts/
USER kon
ENTRYPOINT ["/app/scripts/pack-entrypoint.sh"]
CMD ["help"]

# Grove's image: the operator, the CLI and the mover of backup and restore Jobs.
# Build: docker build -t grove:0.1.0 .   Run: docker run --read-only grove:0.1.0 operator --help

FROM node:24-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

FROM node:24-slim AS dependencies
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund

FROM node:24-slim
# The mover's tools: restic for the repository; the dump and restore clients of the service catalog.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates restic postgresql-client mariadb-client redis-tools \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=dependencies /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY package.json ./
COPY bin ./bin
# Non-root, and nothing written outside the volumes and /tmp the pod mounts (restic's cache goes
# to $RESTIC_CACHE_DIR or HOME, both pointed at an emptyDir by the chart and the mover Jobs).
USER 65532:65532
ENV NODE_ENV=production HOME=/tmp
ENTRYPOINT ["node", "/app/bin/grove.js"]
CMD ["--help"]

# blip-gateway container image (deploy/kubernetes/ runs it). Build from the repository root:
#   docker build -t blip-gateway:0.1.0 .
# Four stages: `deps` installs the production dependencies only; `web` builds the playground and GraphiQL pages with
# Vite (a dev dependency); `prepare` converts the embedded model variants (the same conversion the server would
# otherwise run at start-up); `runtime` is the image that runs, with no npm dev dependencies, no build tools and a
# non-root user.

# glibc (not Alpine): onnxruntime-node and sharp ship prebuilt binaries for linux-x64/arm64 with glibc.
ARG NODE_IMAGE=node:24-bookworm-slim

FROM ${NODE_IMAGE} AS deps
WORKDIR /app
# .npmrc holds onnxruntime-node-install=skip: the CPU binaries are in the package; nothing is downloaded at install.
COPY package.json package-lock.json .npmrc ./
# tsx is a production dependency: `npm start` runs the TypeScript sources through it, so there is no build step.
RUN npm ci --omit=dev --no-audit --no-fund

# The pages at / and /graphiql: Vite and the page dependencies are dev dependencies, so they are built here and only
# web/dist/ is copied into the image (without it the server would answer / with 503).
FROM ${NODE_IMAGE} AS web
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
RUN npm ci --no-audit --no-fund
COPY web ./web
RUN ["node", "--import", "tsx", "web/build.ts", "--force"]

FROM deps AS prepare
WORKDIR /app
COPY tsconfig.json ./
COPY bin ./bin
COPY src ./src
COPY models ./models
COPY test/fixtures/blip-tiny/caption ./test/fixtures/blip-tiny/caption
COPY test/fixtures/blip-tiny/vqa ./test/fixtures/blip-tiny/vqa
COPY registry ./registry
# Converts every embedded variant into registry/ (blip-demo, blip-demo-vqa, blip-tiny, blip-tiny-vqa) and exits.
RUN ["node", "bin/blip-gateway.mjs", "prepare"]

FROM ${NODE_IMAGE} AS runtime
WORKDIR /app
# GLIBC_TUNABLES glibc.malloc.hugetlb=1: glibc's large mappings get transparent huge pages. Loading a variant
# allocates, fills and frees one buffer per weight (ONNX Runtime prepacks every weight at session creation, even from
# saved prepacked graphs); in 4 KiB pages their faults are a large part of a load (README "Where a load's time goes").
# No fixed MALLOC_MMAP_THRESHOLD_: it made each of those buffers a fresh mapping (blip-base fp32 load 1.9 s of CPU with
# 2 MiB against 1.0 s without), and since the cross K/V runs one image at a time and the self-attention cache is
# updated in place it no longer lowered peak RSS (README "Memory budget" has every setting tried).
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=4000 \
    GLIBC_TUNABLES=glibc.malloc.hugetlb=1
# A user of its own with a fixed numeric id, so that Kubernetes' runAsNonRoot can verify it.
RUN groupadd --system --gid 10001 blip && useradd --system --uid 10001 --gid blip --no-create-home --shell /usr/sbin/nologin blip
COPY --from=deps /app/node_modules ./node_modules
COPY package.json tsconfig.json ./
COPY bin ./bin
COPY src ./src
COPY --from=web /app/web/dist ./web/dist
# The checkpoints of the embedded variants stay in the image: at start-up the server hashes them to check that the
# converted files in the registry are up to date (it converts again only if they are not).
COPY models ./models
COPY test/fixtures/blip-tiny/caption ./test/fixtures/blip-tiny/caption
COPY test/fixtures/blip-tiny/vqa ./test/fixtures/blip-tiny/vqa
# The registry is the one writable folder (variants installed or converted later go there); in Kubernetes it is
# copied into a volume, because the root file system is read-only there.
COPY --from=prepare --chown=10001:10001 /app/registry ./registry
USER 10001:10001
EXPOSE 4000
# node itself is PID 1 (no npm in between): it receives SIGTERM and drains (see src/main.ts).
CMD ["node", "--import", "tsx", "src/main.ts"]

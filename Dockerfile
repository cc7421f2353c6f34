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
# MALLOC_MMAP_THRESHOLD_: glibc serves every allocation of 2 MiB or more (many-row cross-attention batches, big
# activations) with its own mapping, returned to the system when freed; one image's tensors (1.8 MB at blip-base fp32)
# stay in the heap, reused (at 1 MiB each was a fresh mapping: fp32 c16 30,000 page faults per caption against 9,000,
# 15.5-18.7 s per 16 captions against 11.9-13.4). Without it glibc raises the threshold as large
# blocks are freed and keeps them in its heaps, fragmented: blip-base fp32 peaked at 2521 MiB RSS at concurrency 64
# instead of 2219 (1.18 × its concurrency-16 peak instead of 1.06). Its CPU cost (each vision activation of 1 MiB or
# more faulting its pages at every run: int8 c1 0.9–1.1 s of CPU per caption instead of 0.75) is gone since the vision
# encoder keeps ONNX Runtime's arena; README "Memory budget" has the table of settings tried (tools/bench/memory-probe.ts --env).
# GLIBC_TUNABLES glibc.malloc.hugetlb=1: those mappings get transparent huge pages. Loading a variant allocates, fills
# and frees one buffer per weight (ONNX Runtime prepacks every weight at session creation, even from saved prepacked
# graphs); with a fresh 4 KiB-page mapping for each, the page faults made a blip-base fp32 load cost 4.0 s of CPU
# instead of 1.5 s without the threshold; huge pages bring it to 2.3 s, RSS unchanged (README "Cold start").
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=4000 \
    MALLOC_MMAP_THRESHOLD_=2097152 \
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

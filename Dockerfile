# syntax=docker/dockerfile:1
#
# The ticksync image: the node (ticksync) and the operator CLI (ticksyncctl),
# static binaries on an empty base, run as uid 65532. See docs/DEPLOY.md.
#
#   docker build -t ticksync .                        # needs golang:<GO_VERSION> from a registry
#   docker run -p 7350:7350 ticksync                  # a one-node dev cluster on :7350
#
# Without a registry (no golang image), build the binaries on the host and
# use deploy/Dockerfile.prebuilt, whose final stage is this file's final
# stage, line for line (.ci/image checks it).

ARG GO_VERSION=1.26

# ---- build: static binaries, cross-compiled for the target platform --------
FROM --platform=$BUILDPLATFORM golang:${GO_VERSION}-bookworm AS build
ARG TARGETOS=linux
ARG TARGETARCH=amd64
# Extra go flags, e.g. --build-arg GOFLAGS=-buildvcs=false if git cannot
# read the context's .git. (A context without a .git folder, such as a
# tarball or a git worktree, builds without version control data.)
ARG GOFLAGS=
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
# -trimpath: no build-machine paths in the binary. Version control data
# (vcs.revision, vcs.time, vcs.modified) and the module version stay in the
# build info, which `ticksync -version` reports.
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -ldflags='-s -w' -o /out/bin/ ./cmd/ticksync ./cmd/ticksyncctl \
    && mkdir -p /out/data

# ---- final stage (keep identical to deploy/Dockerfile.prebuilt) ------------
FROM scratch
COPY --from=build /out/bin/ /usr/local/bin/
COPY --from=build --chown=65532:65532 /out/data/ /data/
# Listen on all interfaces inside the container; Raft stays on loopback
# (a one-node cluster) until TICKSYNC_RAFT_ADDR and TICKSYNC_RAFT_ADVERTISE
# are set (compose.yaml, the StatefulSet).
ENV TICKSYNC_HTTP_ADDR=0.0.0.0:7350 \
    TICKSYNC_DATA_DIR=/data \
    TICKSYNC_LOG_FORMAT=json \
    TICKSYNC_ADDR=http://127.0.0.1:7350
USER 65532:65532
WORKDIR /data
VOLUME /data
EXPOSE 7350 7351
# No shell in the image: the node checks itself (GET /readyz → exit 0 on 200).
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD ["/usr/local/bin/ticksync", "healthcheck"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/ticksync"]

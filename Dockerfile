# syntax=docker/dockerfile:1
#
# Switchboard image: one static binary, started as `switchboard <subcommand>`
# (api, worker, media, migrate; see docker-compose.yml).
#
#   docker build -t switchboard:local .
#   docker run --rm -p 8080:8080 switchboard:local api
#
# GO_VERSION follows the `go` line of go.mod (1.26). Pin a patch release with
# --build-arg GO_VERSION=1.26.10 if you want a reproducible toolchain.
ARG GO_VERSION=1.26
ARG ALPINE_VERSION=3.23

# ---------------------------------------------------------------------------
# Build stage. Runs on the builder's own platform and cross-compiles for the
# target one, which is cheap because the binary is pure Go (CGO_ENABLED=0).
# ---------------------------------------------------------------------------
FROM --platform=$BUILDPLATFORM golang:${GO_VERSION}-alpine AS build

ARG TARGETOS
ARG TARGETARCH

# The golang images set GOTOOLCHAIN=local. go.mod requires go >= 1.26.10, so if
# the 1.26 image is an older patch release, let the go command fetch the
# required toolchain from the module proxy instead of failing.
ENV CGO_ENABLED=0 \
    GOTOOLCHAIN=auto

WORKDIR /src

# Dependencies first: this layer is reused until go.mod or go.sum change.
COPY go.mod go.sum ./
RUN go mod download && go mod verify

# Then the source (see .dockerignore for what stays out of the context).
COPY . .

# -tags nodev leaves out the embedded Temporal server and Web UI that only
# `switchboard dev` uses: the binary shrinks from ~330 MB to ~35 MB.
RUN --mount=type=cache,target=/root/.cache/go-build \
    GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -tags nodev -trimpath -buildvcs=false -ldflags="-s -w" \
        -o /out/switchboard ./cmd/switchboard

# ---------------------------------------------------------------------------
# Runtime stage: Alpine for CA certificates, time zone data, busybox wget (used
# by the health checks) and espeak-ng (text-to-speech of waiting strategies); the
# service itself runs as an unprivileged user.
# ---------------------------------------------------------------------------
FROM alpine:${ALPINE_VERSION}

RUN apk add --no-cache ca-certificates tzdata espeak-ng \
    && addgroup -S -g 10001 switchboard \
    && adduser -S -D -H -u 10001 -G switchboard -h /var/lib/switchboard -s /sbin/nologin switchboard \
    && install -d -o switchboard -g switchboard -m 0750 /var/lib/switchboard

COPY --from=build /out/switchboard /usr/local/bin/switchboard

# Same defaults as the binary, except the data directory, which lives where a
# volume can be mounted (a new named volume inherits this directory's owner).
ENV SWITCHBOARD_HTTP_ADDR=:8080 \
    SWITCHBOARD_SIP_ADDR=:5060 \
    SWITCHBOARD_METRICS_ADDR=:9090 \
    SWITCHBOARD_DATA_DIR=/var/lib/switchboard

WORKDIR /var/lib/switchboard
USER 10001:10001

# 8080: HTTP API (api); 9090: /metrics and /healthz (worker, media);
# 5060: SIP (media).
EXPOSE 8080 9090 5060/udp 5060/tcp

# Works for every long-running subcommand: the API answers /healthz on the HTTP
# port, the worker on the metrics port. docker-compose.yml sets an explicit
# check per service.
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD wget -q -T 2 -O /dev/null "http://127.0.0.1:${SWITCHBOARD_HTTP_ADDR##*:}/healthz" \
     || wget -q -T 2 -O /dev/null "http://127.0.0.1:${SWITCHBOARD_METRICS_ADDR##*:}/healthz" \
     || exit 1

ENTRYPOINT ["/usr/local/bin/switchboard"]
CMD ["api"]

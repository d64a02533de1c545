# syntax=docker/dockerfile:1
#
# The cachegate image: one static binary that runs the gateway (serve), the
# demo origin (origin) and the operator tools. docker-compose.yml builds it.

# Build: the Go version is go.mod's major.minor (deploy/compose checks it).
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/cachegate ./cmd/cachegate

# Run: Debian slim rather than distroless, for curl in the compose
# healthchecks; the process runs as an unprivileged user.
FROM debian:12-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --home-dir /var/lib/cachegate --create-home cachegate
COPY --from=build /out/cachegate /cachegate
USER 10001:10001
WORKDIR /var/lib/cachegate
# The only place the process writes (the embedded NATS server's JetStream
# store, when no NATS URL is given): a volume, so that the container runs
# with a read-only root filesystem (docker-compose.yml's read_only, the
# Kubernetes manifests' readOnlyRootFilesystem). deploy/compose checks it.
ENV CACHEGATE_DATA_DIR=/var/lib/cachegate
VOLUME ["/var/lib/cachegate"]
EXPOSE 8080 9090 3000
ENTRYPOINT ["/cachegate"]
CMD ["serve"]

# mailgw container image: multi-stage, static binary, non-root, state on a
# volume. Build: docker build -t mailgw .   Run:
#   docker run -v mailgw-state:/var/lib/mailgw -p 2525:2525 -p 9940:9940 mailgw
# test/dockerfile checks that the build command below succeeds and that the
# entrypoint runs, on machines without a Docker engine.

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# The version is the one of debian/changelog's newest entry, else what git
# describes, else "dev"; the commit is git's (mailgw --version prints both).
# build:
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w -X main.version=$(sed -n '1s/^[^(]*(\([^)]*\)).*/\1/p' debian/changelog 2>/dev/null | grep . || git describe --tags --always 2>/dev/null || echo dev) -X main.commit=$(git rev-parse HEAD 2>/dev/null)" -o /out/mailgw ./cmd/mailgw

FROM debian:bookworm-slim
RUN useradd --system --home-dir /var/lib/mailgw --create-home --uid 10025 mailgw \
 && mkdir -p /etc/mailgw
COPY --from=build /out/mailgw /usr/local/bin/mailgw
COPY etc/docker/mailgw.toml /etc/mailgw/mailgw.toml
USER mailgw
VOLUME ["/var/lib/mailgw"]
# SMTP, LMTP, ZeroMQ PUB, replay REP, metrics.
EXPOSE 2525 2424 9940 9941 9942
ENTRYPOINT ["/usr/local/bin/mailgw"]
CMD ["serve", "--config", "/etc/mailgw/mailgw.toml"]

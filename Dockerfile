# clooster in a container: a static binary on distroless, as a non-root user.
#
#   docker build --build-arg VERSION=$(git describe --tags --always) -t clooster .
#
# Configure it with CLOOSTER_* variables, or mount a configuration file:
#
#   docker run -d --name clooster --restart unless-stopped -p 4096:4096 \
#     -v ./clooster.json:/etc/clooster/clooster.json:ro clooster /etc/clooster/clooster.json
#
# The file must be readable by the image's user (uid 65532). The status listener
# defaults to 127.0.0.1:9797, inside the container, which is what the health check
# asks; set status.address (CLOOSTER_STATUS_ADDRESS=0.0.0.0:9797) to publish it.

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=$VERSION" -o /out/clooster .

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/clooster /clooster
USER nonroot
# Without an argument, clooster reads ./clooster.json if there is one, and the
# environment otherwise.
WORKDIR /etc/clooster
EXPOSE 4096 9797
HEALTHCHECK --interval=10s --timeout=6s --start-period=5s --retries=3 \
    CMD ["/clooster", "status", "-addr", "127.0.0.1:9797"]
ENTRYPOINT ["/clooster"]

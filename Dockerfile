# syntax=docker/dockerfile:1
#
# The accountops operator image: the release binary on distroless, nothing else.
#
#   docker build -t ghcr.io/accountops/accountops:0.1.0 .
#
# The chart (charts/accountops) runs this image by default, as user 65532 on a read-only root
# filesystem. Keep the tag in step with Cargo.toml's version (the chart's appVersion).

# ---- build: the release binary, with the dependency cache kept between builds ----
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
# Only what the binary is built from (.dockerignore keeps everything else out).
COPY Cargo.toml Cargo.lock ./
COPY src ./src
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin accountops \
    && cp target/release/accountops /accountops

# ---- runtime: glibc and CA certificates, no shell, non-root ----
FROM gcr.io/distroless/cc-debian12:nonroot
LABEL org.opencontainers.image.title="accountops" \
      org.opencontainers.image.description="Kubernetes operator for a multi-tenant platform's accounts" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /accountops /accountops
USER 65532:65532
ENTRYPOINT ["/accountops"]
CMD ["run"]

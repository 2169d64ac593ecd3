# The sfgate image: `docker build -t sfgate:0.1.0 .` at the repository root. The tag is Cargo.toml's
# package version, which the Helm chart's appVersion (helm/sfgate/Chart.yaml) matches, so the chart's
# default image (repository sfgate, tag = appVersion) is this image.
#
#   docker run --rm -p 50051:50051 -p 9464:9464 sfgate:0.1.0          the demo: embedded sandbox org
#   docker run --rm -v "$PWD/sfgate.toml:/etc/sfgate/sfgate.toml:ro" -p 50051:50051 \
#       -p 127.0.0.1:9464:9464 sfgate:0.1.0 --log-format json --config /etc/sfgate/sfgate.toml
#                                                                      a real configuration
#   docker run --rm sfgate:0.1.0 hash-key "$KEY"                       the sha256 for api_keys
#
# Ports: 50051 gRPC, 9464 the admin HTTP server (/metrics, /healthz, /readyz). sfgate's own defaults
# are loopback addresses (gRPC 127.0.0.1:50051; without a configuration, admin 127.0.0.1:9464), which
# `docker run -p` cannot reach, so the default arguments (CMD, below) bind both to 0.0.0.0.
# Arguments after the image name replace CMD entirely: with --config, the file's `listen` (default
# 127.0.0.1:50051) and `[admin] listen` (no admin server without it) apply, so write 0.0.0.0:<port>
# there or pass --listen / --admin-listen as well. With SFGATE_CONFIG set and no arguments, CMD's
# --listen and --admin-listen override the file's addresses. /metrics names every tenant and shows
# each org's API usage: publish 9464 on the host's loopback (-p 127.0.0.1:9464:9464) or not at all.
#
# The build context is an allowlist (.dockerignore): only what the build reads, so that a local
# sfgate.toml, which may hold Salesforce secrets ([credentials.file]), never reaches the builder.
#
# Needs BuildKit (the default builder of current Docker) for the cache mounts, which keep the cargo
# registry and target/ between builds so that a source change does not rebuild every dependency.

# The crate uses let chains (stable since Rust 1.88); 1.95 is the toolchain its CI builds with.
ARG RUST_VERSION=1.95
ARG DEBIAN_RELEASE=bookworm

FROM rust:${RUST_VERSION}-slim-${DEBIAN_RELEASE} AS builder
# The slim Rust image has gcc and libc6-dev (ring's C and assembly); protoc comes from the
# protoc-bin-vendored crate and TLS is rustls with ring, so no system protoc, pkg-config or OpenSSL.
WORKDIR /src
COPY . .
RUN --mount=type=cache,id=sfgate-cargo-registry,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,id=sfgate-cargo-git,target=/usr/local/cargo/git,sharing=locked \
    --mount=type=cache,id=sfgate-target,target=/src/target,sharing=locked \
    cargo build --release --locked --bin sfgate \
    && install -D -m 0755 target/release/sfgate /out/sfgate

FROM debian:${DEBIAN_RELEASE}-slim
# ca-certificates: Salesforce, Vault and OTLP endpoints are verified against the system's roots.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 65532 sfgate \
    && useradd --system --uid 65532 --gid 65532 --home-dir /nonexistent --no-create-home \
        --shell /usr/sbin/nologin sfgate
COPY --from=builder /out/sfgate /usr/local/bin/sfgate
LABEL org.opencontainers.image.title="sfgate" \
      org.opencontainers.image.description="A gRPC connector gateway for Salesforce" \
      org.opencontainers.image.licenses="Apache-2.0"
USER 65532:65532
# 50051: gRPC; 9464: the admin HTTP server ([admin] in sfgate.toml: /metrics, /healthz, /readyz).
EXPOSE 50051 9464
ENTRYPOINT ["/usr/local/bin/sfgate"]
# Without --config, sfgate serves the embedded sandbox org (a demo) on 127.0.0.1:50051 with its admin
# server on 127.0.0.1:9464, which no published port reaches: bind both to every interface, so that
# `docker run -p 50051:50051 -p 9464:9464` reaches them. An explicit --admin-listen also makes a
# busy admin port fatal rather than skipped (a container's network has it free). Arguments after the
# image name replace these; the Helm chart passes its own.
CMD ["--listen", "0.0.0.0:50051", "--admin-listen", "0.0.0.0:9464"]

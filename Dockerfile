# The Fenghua registry service. Build: `docker build -t fenghua-registry .` (BuildKit, the
# default builder since Docker 23). See README.md, "Docker compose".

# ---- build ------------------------------------------------------------------------------
FROM rust:1-bookworm AS builder
WORKDIR /build

# The whole context (.dockerignore keeps out target/, data/, .env and .git): Cargo.toml and
# Cargo.lock, src/, and migrations/ and openapi.yaml, which are compiled into the binary
# (embed_migrations!, include_str!). SQLite and libpq are built from source by their crates.
COPY . .

# `--build-arg CARGO_FEATURES=postgres-tls` builds libpq with OpenSSL (both from source; this
# image has the perl and make it takes) for TLS to a database on another host (README: TLS to
# PostgreSQL). The default build has no TLS.
ARG CARGO_FEATURES=""

# The caches keep downloaded crates and compiled dependencies between image builds; the binary
# is copied out of the cached target folder in the same step.
RUN --mount=type=cache,id=fenghua-cargo-registry,target=/usr/local/cargo/registry \
    --mount=type=cache,id=fenghua-target,target=/build/target \
    cargo build --release --locked ${CARGO_FEATURES:+--features "$CARGO_FEATURES"} \
    && install -D -m 0755 target/release/fenghua-registry /out/fenghua-registry

# ---- run --------------------------------------------------------------------------------
FROM debian:bookworm-slim

RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/*

# A fixed, unprivileged uid/gid so volume ownership is stable across rebuilds.
RUN groupadd --system --gid 10001 fenghua \
    && useradd --system --uid 10001 --gid 10001 --no-create-home \
       --home-dir /var/lib/fenghua-registry --shell /usr/sbin/nologin fenghua \
    && install -d -o 10001 -g 10001 -m 0700 /var/lib/fenghua-registry

COPY --from=builder /out/fenghua-registry /usr/local/bin/fenghua-registry

ENV BIND=0.0.0.0:8080 \
    DATA_DIR=/var/lib/fenghua-registry \
    LOG_FORMAT=json

USER 10001:10001
WORKDIR /var/lib/fenghua-registry
EXPOSE 8080

# Ready = the database answers. No curl in the image: bash's /dev/tcp sends the request to the
# port of BIND and the status line must say 200.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/${BIND##*:} && printf 'GET /readyz HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' >&3 && head -n 1 <&3 | grep -q ' 200 '"]

# SIGTERM (docker stop) shuts down gracefully within SHUTDOWN_TIMEOUT_SECS (30 s by default):
# give `docker stop -t` / stop_grace_period more than that.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/fenghua-registry"]
CMD ["serve"]

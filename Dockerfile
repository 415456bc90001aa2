# syntax=docker/dockerfile:1
#
# oidc-bff container image: built in the official Rust image, run from distroless (glibc,
# libgcc, OpenSSL, CA certificates, no shell, no package manager) as a fixed non-root UID.
#
#   docker build -t oidc-bff .
#   docker run --rm --read-only -p 8080:8080 -e BFF_PROFILE=stg \
#     -e BFF_SESSION__KEYS_FILE=/run/secrets/oidc-bff/session-keys \
#     -e BFF_OIDC__CLIENT_SECRET_FILE=/run/secrets/oidc-bff/client-secret \
#     -v "$PWD/secrets:/run/secrets/oidc-bff:ro" oidc-bff
#
# deploy/container/layout.sh reads the runtime stage below, performs its steps into a folder with a
# binary built outside, and runs it there as this image would (user, working directory,
# environment, entrypoint, read-only root) against a test SSO: it fails when it meets an
# instruction it cannot mirror, so keep the runtime stage to COPY, WORKDIR, ENV, USER, EXPOSE,
# STOPSIGNAL, ENTRYPOINT, CMD and LABEL. deploy/container/README.md has the details.
#
# Pin both base images by digest in your registry mirror (`image:tag@sha256:...`) for
# reproducible builds; the tags here name what was tested.

# ---------------------------------------------------------------------------------------------
FROM docker.io/library/rust:1.95-bookworm AS build
WORKDIR /src
# Only what the build needs (see .dockerignore, which admits nothing else into the context).
# The bench sources are declared in Cargo.toml, so cargo wants them present even when it does not
# build them.
COPY Cargo.toml Cargo.lock ./
COPY benches/seal.rs benches/relay_path.rs benches/
COPY src/ src/
# The cache mounts keep the crates.io downloads and the target folder between builds (BuildKit,
# buildah and podman all honour them); the binary is copied out of the cached target folder.
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/src/target,sharing=locked \
    cargo build --release --locked \
 && install -D -m 0755 target/release/oidc-bff /out/oidc-bff

# ---------------------------------------------------------------------------------------------
FROM gcr.io/distroless/cc-debian12:nonroot AS runtime
COPY --from=build /out/oidc-bff /usr/local/bin/oidc-bff
# Debian's CA bundle, the same one the build image has: the SSO's certificate is checked against
# the roots compiled into the binary (webpki) and `oidc.ca_file`; point `oidc.ca_file` here or at
# a mounted corporate bundle.
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
# The shipped profiles (default, dev, stg, prd): BFF_PROFILE picks one at run time. They hold no
# secret but the dev key, which the binary refuses unless public_url is a loopback origin.
COPY profiles/ /etc/oidc-bff/profiles/
WORKDIR /etc/oidc-bff
# BFF_CONFIG_DIR: the profiles folder, absolute, so a different working directory does not lose it.
# BFF_SERVER__BIND: the port below on every interface, whatever the profile says (dev's is loopback).
# BFF_LOG_FORMAT: one JSON object per line on stderr, for the cluster's log collector.
ENV BFF_CONFIG_DIR=/etc/oidc-bff/profiles \
    BFF_SERVER__BIND=0.0.0.0:8080 \
    BFF_LOG_FORMAT=json
# distroless's "nonroot" user; Kubernetes' runAsUser/runAsGroup use the same numbers.
USER 65532:65532
EXPOSE 8080
# On SIGTERM /readyz turns 503 at once, the listener closes after server.shutdown_delay and
# in-flight requests get server.shutdown_timeout; the process then exits 0.
STOPSIGNAL SIGTERM
# No HEALTHCHECK: the image has no shell or curl to run one, and Kubernetes probes /healthz and
# /readyz itself (deploy/k8s/).
ENTRYPOINT ["/usr/local/bin/oidc-bff"]
CMD ["serve"]

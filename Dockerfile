# iter8-gitops: one static binary in an empty image (no shell, no CA store, no git).
#
# From source (needs the official Rust image):
#   docker build -t iter8-gitops .
# From a binary built outside, where no image can be pulled (what the tests do):
#   cargo build --release --locked --target x86_64-unknown-linux-musl --bin iter8-gitops
#   docker build --target prebuilt -t iter8-gitops .
#   (with CARGO_TARGET_DIR=DIR: --build-arg BINARY=DIR/x86_64-unknown-linux-musl/release/iter8-gitops,
#   DIR inside the build context)
# The `prebuilt` stage comes before the Rust stage on purpose: every builder, BuildKit or the
# classic one, stops at the target and never touches the Rust image.
ARG VERSION=0.1.0

FROM scratch AS runtime
ARG VERSION
LABEL org.opencontainers.image.title="iter8-gitops" \
      org.opencontainers.image.description="Iter8 finish task for GitOps: promote the winner in the Env repo, open the PR, apply the final manifests" \
      org.opencontainers.image.source="https://github.com/iter8-tools/iter8-gitops" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0"
# Numeric, so `runAsNonRoot` can verify it without an /etc/passwd.
USER 65532:65532
ENTRYPOINT ["/iter8-gitops"]

FROM runtime AS prebuilt
# Where the binary is, relative to the build context: with CARGO_TARGET_DIR set, give
# --build-arg BINARY=<that dir, inside the context>/x86_64-unknown-linux-musl/release/iter8-gitops
# (a context is what `docker build` sends: the binary must be inside it).
ARG BINARY=target/x86_64-unknown-linux-musl/release/iter8-gitops
COPY ${BINARY} /iter8-gitops

FROM rust:1-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends musl-tools \
 && rm -rf /var/lib/apt/lists/* \
 && rustup target add x86_64-unknown-linux-musl
WORKDIR /src
COPY . .
# ring is the only C in the build; musl-gcc compiles it for the static target.
ENV CC_x86_64_unknown_linux_musl=musl-gcc
RUN cargo build --release --locked --target x86_64-unknown-linux-musl --bin iter8-gitops \
 && cp target/x86_64-unknown-linux-musl/release/iter8-gitops /iter8-gitops

FROM runtime
COPY --from=build /iter8-gitops /iter8-gitops

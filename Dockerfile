# syntax=docker/dockerfile:1
# One image with every cppcc binary, run as a non-root user on a distroless
# base. Build from the repository root:
#   docker build -t registry.example/cppcc:0.1.0 .
# The dependency layer (cargo-chef's recipe: Cargo.toml and Cargo.lock of
# every crate) is rebuilt only when dependencies change.

ARG RUST_VERSION=1.95

FROM rust:${RUST_VERSION}-slim-bookworm AS chef
RUN cargo install cargo-chef --locked --version 0.1.78
WORKDIR /src

FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

FROM chef AS builder
COPY --from=planner /src/recipe.json recipe.json
RUN cargo chef cook --release --locked --recipe-path recipe.json
COPY . .
# Queries are checked against the committed .sqlx/ data (.cargo/config.toml
# sets SQLX_OFFLINE); the build needs no database and no protoc.
RUN cargo build --release --locked \
      --bin cppcc-members --bin cppcc-proposals --bin cppcc-consultations \
      --bin cppcc-opinions --bin cppcc-gateway --bin cppcc \
 && mkdir /out \
 && cp target/release/cppcc-members target/release/cppcc-proposals \
       target/release/cppcc-consultations target/release/cppcc-opinions \
       target/release/cppcc-gateway target/release/cppcc /out/

# glibc and libgcc, nothing else; uid 65532.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=builder /out/ /usr/local/bin/
USER 65532:65532
# The gateway by default; each Deployment names its binary.
EXPOSE 50051 9090
ENTRYPOINT ["/usr/local/bin/cppcc-gateway"]

# syntax=docker/dockerfile:1
# iam-sidecar image: `docker build -t iam-sidecar:0.1.0 .` (the tag is the version in
# pyproject.toml, which is also the Helm chart's appVersion; push it to your registry, e.g.
# ghcr.io/OWNER/iam-sidecar:0.1.0, and set image.repository).
#
# Two stages: `build` installs the project's runtime dependencies (`pip install .`, no dev
# extra, so no grpcio-tools, compilers or test tools) into a virtualenv; the final stage copies
# only that virtualenv onto a fresh slim Python and runs as a non-root user, with a read-only
# root filesystem in mind (every path the sidecar writes is a volume in Kubernetes).

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/iam-sidecar
WORKDIR /src
# Only what `pip install .` reads (see .dockerignore).
COPY pyproject.toml README.md ./
COPY sidecar ./sidecar
COPY clients/python ./clients/python
RUN /opt/iam-sidecar/bin/pip install . \
 && /opt/iam-sidecar/bin/pip uninstall --yes pip setuptools \
 && /opt/iam-sidecar/bin/iam-sidecar serve --help > /dev/null

FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="iam-sidecar" \
      org.opencontainers.image.description="An authorization sidecar that speaks the AWS IAM policy language over gRPC" \
      org.opencontainers.image.licenses="Apache-2.0"
# The base image's own pip, setuptools and wheel are not needed at run time; the user is
# numeric, so that Kubernetes' runAsNonRoot can verify it (the chart's sidecar.runAsUser).
RUN python -m pip uninstall --yes --root-user-action=ignore pip setuptools wheel \
 && groupadd --system --gid 10001 iam-sidecar \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin iam-sidecar \
 && install -d -o 10001 -g 10001 -m 0750 /var/lib/iam-sidecar /var/run/iam-sidecar
COPY --from=build /opt/iam-sidecar /opt/iam-sidecar
ENV PATH=/opt/iam-sidecar/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
USER 10001:10001
WORKDIR /var/lib/iam-sidecar

# 50051: Authorizer on loopback (and the socket); 50053: health-only, for probes; 9095: metrics.
# Control (50052) is off here: it needs a token file (--control 0.0.0.0:50052
# --control-token-file F).
EXPOSE 50053 9095
HEALTHCHECK --interval=10s --timeout=6s --start-period=30s --retries=3 \
    CMD ["iam-sidecar", "health", "--server", "127.0.0.1:50053"]
ENTRYPOINT ["iam-sidecar"]
# Mount a directory holding snapshot.json at /etc/iam-sidecar/snapshot (watched for changes).
CMD ["serve", "--snapshot", "/etc/iam-sidecar/snapshot", \
     "--listen", "unix:/var/run/iam-sidecar/authz.sock,127.0.0.1:50051", \
     "--control", "off", \
     "--health-listen", "0.0.0.0:50053", \
     "--metrics-listen", "0.0.0.0:9095", \
     "--state-dir", "/var/lib/iam-sidecar/state"]

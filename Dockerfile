# The otelcol-eks image: the static binary built by `make release` on
# scratch, with CA certificates (for AMP and the Kubernetes API) and a default
# configuration. Nothing is fetched during the build, so it builds offline.
# Build it with `make image` (docker buildx when a Docker engine runs,
# buildah otherwise), which produces one manifest for linux/amd64 and
# linux/arm64.
FROM scratch

ARG TARGETARCH=amd64

COPY bin/image-context/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --chmod=0755 bin/otelcol-eks-linux-${TARGETARCH} /otelcol-eks
COPY configs/workshop.yaml /etc/otelcol-eks/config.yaml
# The remote_write_delivery queue (configs/*.yaml: directory
# ${OTELCOL_STORAGE_DIR:-/var/lib/otelcol-eks}), writable by the collector's
# user; on Kubernetes a volume is mounted there (deploy/).
COPY --chown=10001:10001 bin/image-context/var-lib-otelcol-eks/ /var/lib/otelcol-eks/

USER 10001:10001
# 4317/4318 OTLP, 13133 health_check, 8888 the collector's own metrics.
EXPOSE 4317 4318 13133 8888
ENTRYPOINT ["/otelcol-eks"]
CMD ["--config", "/etc/otelcol-eks/config.yaml"]

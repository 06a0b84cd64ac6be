# otelcol-chain, the chainotel collector distribution, FROM scratch: the
# static binary that ocb builds (CGO_ENABLED=0, see builder-config.yaml) and
# the folders it writes to. deploy/build-images.sh builds it from a context
# that holds only those, so an unchanged binary is a cached layer.
#
# Configuration is mounted at run time (deploy/docker-compose.yml): the
# repository's collector/ at /etc/chainotel/collector and deploy/collector/ at
# /etc/chainotel/deploy.
FROM scratch
# /tmp (mode 1777) for Go's temporary files; /out, where the file exporters and
# the persistent queues write, owned by the runtime user so a named volume
# mounted there starts with that owner.
COPY --chown=65532:65532 rootfs/ /
COPY otelcol-chain /otelcol-chain
# Only for the health check: `/blockchain probe http://127.0.0.1:13133/`
# (the image has no curl).
COPY blockchain /blockchain
USER 65532:65532
EXPOSE 4317 4318 8888 13133
ENTRYPOINT ["/otelcol-chain"]

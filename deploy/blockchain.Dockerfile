# The chainotel node, FROM scratch: one static binary (CGO_ENABLED=0) and the
# folders it writes to. deploy/build-images.sh builds it from a context that
# holds only those, so an unchanged binary is a cached layer.
#
# The node needs no CA bundle: peers are checked against the cluster CA in
# /certs, and OTLP goes in plain text to the sidecar on the compose network.
FROM scratch
# /tmp (mode 1777) for Go's temporary files and the node's logs; /certs,
# /genesis and /data owned by the runtime user, so named volumes mounted there
# start with that owner.
COPY --chown=65532:65532 rootfs/ /
COPY blockchain /blockchain
USER 65532:65532
EXPOSE 8080 9090
ENTRYPOINT ["/blockchain"]

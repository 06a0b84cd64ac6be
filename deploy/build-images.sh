#!/usr/bin/env bash
# Builds the two FROM-scratch images of the testnet from static binaries:
#
#   chainotel/blockchain:$CHAINOTEL_IMAGE_TAG     the node (./node/cmd/blockchain, CGO_ENABLED=0)
#   chainotel/otelcol-chain:$CHAINOTEL_IMAGE_TAG  the collector (build/otelcol-chain from ocb),
#                                                 and the node binary for `blockchain probe`
#
# No base image is pulled. Each image is built from a context of its own under
# deploy/.context/ that holds only the binary and the empty folders the image
# needs; a binary is copied there only when its bytes changed, so a rebuild
# with the same sources reuses every cached layer.
#
# `make testnet-up` and deploy/deploy_test.go run this. Environment:
#   CHAINOTEL_IMAGE_TAG  image tag (default dev)
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
TAG=${CHAINOTEL_IMAGE_TAG:-dev}
CONTEXT=$ROOT/deploy/.context

say() { echo "build-images: $*" >&2; }
die() { say "ERROR: $*"; exit 1; }

command -v docker >/dev/null || die "docker is not installed"

# prepare_context name binary dirs...: deploy/.context/<name>/ with the binary
# (copied only when it changed) and rootfs/<dir> for each dir; /tmp is 1777.
prepare_context() {
  local name=$1 binary=$2 dir
  shift 2
  mkdir -p "$CONTEXT/$name/rootfs"
  for dir in tmp "$@"; do mkdir -p "$CONTEXT/$name/rootfs/$dir"; done
  chmod 1777 "$CONTEXT/$name/rootfs/tmp"
  chmod 0755 "${@/#/$CONTEXT/$name/rootfs/}"
  if ! cmp -s "$binary" "$CONTEXT/$name/$name"; then
    cp "$binary" "$CONTEXT/$name/$name.new"
    mv "$CONTEXT/$name/$name.new" "$CONTEXT/$name/$name"
  fi
}

build_image() { # name
  local name=$1 start=$SECONDS old new
  old=$(docker image inspect --format '{{.Id}}' "chainotel/$name:$TAG" 2>/dev/null || true)
  say "building image chainotel/$name:$TAG (deploy/$name.Dockerfile) ..."
  # The legacy builder's deprecation notice is noise here: no BuildKit feature is used.
  docker build --quiet --tag "chainotel/$name:$TAG" --file "deploy/$name.Dockerfile" "$CONTEXT/$name" \
    2> >(grep -v -e '^DEPRECATED: The legacy builder' -e 'Install the buildx component' \
      -e 'docs.docker.com/go/buildx' -e '^ *$' >&2) >/dev/null \
    || die "docker build of chainotel/$name:$TAG failed"
  new=$(docker image inspect --format '{{.Id}}' "chainotel/$name:$TAG")
  # The image the tag named before is now untagged; remove it so rebuilds do
  # not pile up (docker refuses while a container still uses it: then it stays).
  if [ -n "$old" ] && [ "$old" != "$new" ]; then
    docker image rm "$old" >/dev/null 2>&1 || true
  fi
  say "chainotel/$name:$TAG ready ($((SECONDS - start))s)"
}

# --- binaries -------------------------------------------------------------------
mkdir -p "$CONTEXT"
say "building the static node binary (CGO_ENABLED=0) ..."
# The release the image reports (service.version), as the Makefile's build target sets it.
VERSION=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || true)}
REVISION=${REVISION:-$(git rev-parse HEAD 2>/dev/null || true)}
CGO_ENABLED=0 go build -trimpath -o "$CONTEXT/blockchain.bin" -ldflags="-s -w\
${VERSION:+ -X github.com/chainotel/chainotel/node/buildinfo.linkedVersion=$VERSION}\
${REVISION:+ -X github.com/chainotel/chainotel/node/buildinfo.linkedRevision=$REVISION}" ./node/cmd/blockchain \
  || die "go build ./node/cmd/blockchain failed"

scripts/build-collector.sh || die "building build/otelcol-chain failed"
# ocb builds with CGO_ENABLED=0 unless told otherwise; a scratch image needs that.
if ! go version -m build/otelcol-chain | grep -q 'CGO_ENABLED=0'; then
  die "build/otelcol-chain was not built with CGO_ENABLED=0, so it cannot run FROM scratch (see builder-config.yaml)"
fi

prepare_context blockchain "$CONTEXT/blockchain.bin" certs genesis data
prepare_context otelcol-chain build/otelcol-chain out
# The collector image carries the node binary too, for its health check
# (`blockchain probe`): the image has no shell and no curl.
if ! cmp -s "$CONTEXT/blockchain.bin" "$CONTEXT/otelcol-chain/blockchain"; then
  cp "$CONTEXT/blockchain.bin" "$CONTEXT/otelcol-chain/blockchain.new"
  mv "$CONTEXT/otelcol-chain/blockchain.new" "$CONTEXT/otelcol-chain/blockchain"
fi

# --- images ---------------------------------------------------------------------
build_image blockchain
build_image otelcol-chain

#!/usr/bin/env bash
# Builds build/otelcol-chain with ocb (the OpenTelemetry Collector Builder) from
# builder-config.yaml. `make collector` runs it; so do tests through testbin.
# MANIFEST=<path> builds another manifest the same way (the binary is
# <dist.output_path>/<dist.name>; `make bench-collector` builds its stock baseline so).
#
# - Installs the builder at the pinned version into bin/ (git-ignored) when it is
#   missing or at another version.
# - Rebuilds only when an input changed: a stamp next to the binary holds a hash of
#   builder-config.yaml, go.mod, go.sum, this script and the Go sources that the
#   distribution compiles from this repository. A cold build takes ~5 min on a
#   2-core machine, a warm one ~1 min, so skipping matters.
# - Serialised with flock: several test packages may call it at once; the later
#   ones wait, then find the stamp current and return at once.
set -euo pipefail

BUILDER_VERSION=v0.161.0
MODULE=github.com/chainotel/chainotel
HEARTBEAT_SECONDS=20

cd "$(dirname "$0")/.."
ROOT=$PWD
BIN_DIR=$ROOT/bin
BUILDER=$BIN_DIR/builder
MANIFEST=${MANIFEST:-builder-config.yaml}
DIST_NAME=$(awk '/^dist:/{d=1;next} /^[^ #]/{d=0} d&&$1=="name:"{print $2;exit}' "$MANIFEST")
DIST_OUT=$(awk '/^dist:/{d=1;next} /^[^ #]/{d=0} d&&$1=="output_path:"{print $2;exit}' "$MANIFEST")
[ -n "$DIST_NAME" ] && [ -n "$DIST_OUT" ] || { echo "build-collector: ERROR: $MANIFEST: dist.name and dist.output_path are required" >&2; exit 1; }
OUT_DIR=$ROOT/${DIST_OUT#./}
BINARY=$OUT_DIR/$DIST_NAME
STAMP=$OUT_DIR/.inputs.sha256
LOG=$BIN_DIR/$DIST_NAME-build.log

say() { echo "build-collector: $*" >&2; }
die() { say "ERROR: $*"; exit 1; }

mkdir -p "$BIN_DIR"
exec 9>"$BIN_DIR/.$DIST_NAME-build.lock"
if ! flock -n 9; then
  say "another build of $DIST_NAME is running; waiting for it to finish..."
  flock 9
fi

install_builder() {
  if [ -x "$BUILDER" ] && "$BUILDER" version 2>&1 | grep -q "$BUILDER_VERSION"; then
    return
  fi
  say "installing the collector builder (ocb) $BUILDER_VERSION into bin/..."
  GOBIN=$BIN_DIR go install "go.opentelemetry.io/collector/cmd/builder@$BUILDER_VERSION" \
    || die "could not install go.opentelemetry.io/collector/cmd/builder@$BUILDER_VERSION (is the Go module proxy reachable?)"
}

# Every Go file of this repository that the distribution compiles: the
# packages that builder-config.yaml imports and their in-module dependencies,
# plus all non-test Go sources under processors/, extensions/, collector/ and semconv/ (so a
# component not yet in the manifest, or one that does not compile, still counts).
input_files() {
  local imports
  imports=$(grep -oE "import:[[:space:]]*$MODULE/[^[:space:]]+" "$MANIFEST" | awk '{print $2}' || true)
  {
    printf '%s\n' "$MANIFEST" go.mod go.sum scripts/build-collector.sh
    # A manifest that compiles nothing from this repository (the stock baseline) depends on
    # no source of it.
    grep -q "$MODULE" "$MANIFEST" || return 0
    if [ -n "$imports" ]; then
      # shellcheck disable=SC2086 # one argument per import path
      # shellcheck disable=SC2016 # a Go template, not a shell expansion
      go list -e -deps -f '{{with .Module}}{{if .Main}}{{$d := $.Dir}}{{range $.GoFiles}}{{$d}}/{{.}}{{"\n"}}{{end}}{{range $.EmbedFiles}}{{$d}}/{{.}}{{"\n"}}{{end}}{{end}}{{end}}' $imports 2>/dev/null \
        | sed "s|^$ROOT/||"
    fi
    for dir in processors extensions collector semconv; do
      [ -d "$dir" ] && find "$dir" -name '*.go' ! -name '*_test.go' \
        -not -path 'collector/integration/*' -not -path 'collector/out/*'
    done
  } | grep -v '^$' | LC_ALL=C sort -u
}

inputs_hash() {
  local files
  files=$(input_files)
  # shellcheck disable=SC2086 # file names have no spaces in this repository
  { echo "$files"; sha256sum $files; } | sha256sum | awk '{print $1}'
}

# What the build is doing now, from the builder's phase and its busiest
# descendant (the go compiler names the package it compiles with -p).
current_step() {
  local phase child
  phase=$(grep -oE '(Sources created|Getting go modules|Compiling|Compiled)' "$LOG" 2>/dev/null | tail -1 || true)
  child=$(ps -eo pid=,ppid=,args= 2>/dev/null | awk -v root="$1" '
    { pid[NR]=$1; ppid[NR]=$2; $1=""; $2=""; args[NR]=$0 }
    END {
      want[root]=1
      for (changed=1; changed;) { changed=0
        for (i=1;i<=NR;i++) if (want[ppid[i]] && !want[pid[i]]) { want[pid[i]]=1; changed=1 } }
      for (i=1;i<=NR;i++) if (want[pid[i]] && pid[i]!=root && args[i] !~ /<defunct>|^ *\[/) last=args[i]
      print last
    }')
  case "$child" in
    *"/compile "*) child="compiling $(sed -nE 's/.* -p ([^ ]+).*/\1/p' <<<"$child")" ;;
    *"/link "*) child="linking the binary" ;;
    *"go mod tidy"* | *"go mod download"*) child="resolving modules (go mod)" ;;
    *) child="${child:0:80}" ;;
  esac
  echo "${phase:-starting}${child:+: $child}"
}

install_builder
want=$(inputs_hash)
if [ -x "$BINARY" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ]; then
  exit 0
fi

say "building $DIST_NAME with ocb; a cold build takes ~5-6 min, a warm one ~1 min or less (log: ${LOG#"$ROOT"/})..."
rm -f "$STAMP"
mkdir -p "$(dirname "$OUT_DIR")"
start=$SECONDS
"$BUILDER" --config "$MANIFEST" >"$LOG" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true' EXIT INT TERM
next=$((SECONDS + HEARTBEAT_SECONDS))
while kill -0 "$pid" 2>/dev/null; do
  if [ "$SECONDS" -ge "$next" ]; then
    say "still building ($((SECONDS - start))s) - $(current_step "$pid")"
    next=$((SECONDS + HEARTBEAT_SECONDS))
  fi
  sleep 1
done
trap - EXIT INT TERM
if ! wait "$pid"; then
  say "ERROR: ocb failed after $((SECONDS - start))s; the last lines of ${LOG#"$ROOT"/}:"
  tail -n 40 "$LOG" >&2
  exit 1
fi
[ -x "$BINARY" ] || die "ocb reported success but $BINARY is missing (see ${LOG#"$ROOT"/})"
echo "$want" >"$STAMP"
say "built ${BINARY#"$ROOT"/} in $((SECONDS - start))s"

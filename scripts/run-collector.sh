#!/usr/bin/env bash
# Runs build/otelcol-chain with the default configuration, collector/config.yaml,
# plus the overlays that the environment asks for. The collector's confmap has
# no conditionals, so the "else" and "when configured" of the configuration are
# chosen here:
#
#   CHAINOTEL_TRACES_OTLP_ENDPOINT set  -> + collector/overlays/otlp-out.yaml
#                                          (sampled traces go there, not to the file)
#   SENTRY_DSN set                      -> + collector/overlays/sentry.yaml
#                                          (errors also go to Sentry)
#
# Relative paths in the configuration (the policy file, the output folder) are
# made absolute against the repository root, so this runs from any directory.
# Extra arguments go to the collector (e.g. another --config overlay, or
# `validate` as the first argument to check the configuration and exit).
#
#   scripts/run-collector.sh                 # run in the foreground until Ctrl-C
#   scripts/run-collector.sh --print-args    # print the command line and exit
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BINARY=${CHAINOTEL_OTELCOL_BIN:-$ROOT/build/otelcol-chain}

export CHAINOTEL_POLICY_FILE=${CHAINOTEL_POLICY_FILE:-$ROOT/collector/sampling-policies.yaml}
export CHAINOTEL_OUT_DIR=${CHAINOTEL_OUT_DIR:-$ROOT/collector/out}

configs=(--config "$ROOT/collector/config.yaml")
if [ -n "${CHAINOTEL_TRACES_OTLP_ENDPOINT:-}" ]; then
  configs+=(--config "$ROOT/collector/overlays/otlp-out.yaml")
fi
if [ -n "${SENTRY_DSN:-}" ]; then
  configs+=(--config "$ROOT/collector/overlays/sentry.yaml")
fi

subcommand=()
if [ "${1:-}" = validate ]; then
  subcommand=(validate)
  shift
fi
if [ "${1:-}" = --print-args ]; then
  echo "$BINARY" "${subcommand[@]}" "${configs[@]}"
  exit 0
fi

if [ ! -x "$BINARY" ]; then
  echo "run-collector: $BINARY is missing; build it with: make collector" >&2
  exit 1
fi
if [ ! -f "$CHAINOTEL_POLICY_FILE" ]; then
  echo "run-collector: the sampling policy file $CHAINOTEL_POLICY_FILE is missing (set CHAINOTEL_POLICY_FILE)" >&2
  exit 1
fi
mkdir -p "$CHAINOTEL_OUT_DIR"
exec "$BINARY" "${subcommand[@]}" "${configs[@]}" "$@"

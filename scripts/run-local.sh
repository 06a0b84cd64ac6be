#!/usr/bin/env bash
# The local testnet of `make run`: otelcol-chain with the default configuration
# and policy file, then three raft nodes exporting their telemetry to it. Writes
# the certificates and the genesis first when they are missing, waits until
# everything is healthy, prints where everything is, and on Ctrl-C stops it all
# cleanly (nodes first, so the collector still takes their last spans).
#
# `make run` builds ./blockchain and build/otelcol-chain before calling this.
# Environment: CHAINOTEL_POLICY_FILE, CHAINOTEL_TRACES_OTLP_ENDPOINT, SENTRY_DSN
# and the rest of scripts/run-collector.sh; START_TIMEOUT (seconds, default 60).
set -euo pipefail
set -m # each child in its own process group: Ctrl-C reaches only this script, which stops them in order

cd "$(dirname "$0")/.."
ROOT=$PWD
BLOCKCHAIN=./blockchain
NODES=(node0 node1 node2)
PORTS=(8080 8081 8082)
HEALTH_OFFSET=1010 # the node's default --health-port is --port + 1010
START_TIMEOUT=${START_TIMEOUT:-60}
STOP_TIMEOUT=20
COLLECTOR_HEALTH=http://localhost:13133/
COLLECTOR_OTLP=localhost:4317
LOG_DIR=logs
POLICY_FILE=${CHAINOTEL_POLICY_FILE:-$ROOT/collector/sampling-policies.yaml}

say() { echo "run-local: $*" >&2; }
die() { say "ERROR: $*"; stop_all; exit 1; }

declare -A PIDS=()  # name -> pid
ORDER=()            # start order; stopped in reverse

stop_one() {
  local name=$1 pid=${PIDS[$1]:-} deadline status
  [ -n "$pid" ] || return 0
  unset "PIDS[$name]"
  if ! kill -0 "$pid" 2>/dev/null; then
    wait "$pid" 2>/dev/null && status=0 || status=$?
    say "$name had already exited (status $status)"
    return 0
  fi
  kill -TERM "$pid" 2>/dev/null || true
  deadline=$((SECONDS + STOP_TIMEOUT))
  while kill -0 "$pid" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.2; done
  if kill -0 "$pid" 2>/dev/null; then
    say "$name did not stop within ${STOP_TIMEOUT}s of SIGTERM; killing it"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null && status=0 || status=$?
  say "$name stopped (exit status $status)"
}

stop_all() {
  trap - INT TERM
  local i
  for ((i = ${#ORDER[@]} - 1; i >= 0; i--)); do stop_one "${ORDER[i]}"; done
}

start() { # name logfile cmd...
  local name=$1 log=$2
  shift 2
  mkdir -p "$(dirname "$log")"
  "$@" >"$log" 2>&1 &
  PIDS[$name]=$!
  ORDER+=("$name")
}

# wait_http name url log: polls url until it answers 2xx, the process exits or START_TIMEOUT passes.
wait_http() {
  local name=$1 url=$2 log=$3 deadline=$((SECONDS + START_TIMEOUT)) next=$((SECONDS + 10))
  say "waiting for $name to answer on $url ..."
  until curl -fsS -o /dev/null --max-time 2 "$url" 2>/dev/null; do
    if ! kill -0 "${PIDS[$name]}" 2>/dev/null; then
      say "$name exited during start-up; the last lines of $log:"
      tail -n 30 "$log" >&2
      die "$name did not start"
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      say "the last lines of $log:"
      tail -n 30 "$log" >&2
      die "$name did not answer on $url within ${START_TIMEOUT}s"
    fi
    if [ "$SECONDS" -ge "$next" ]; then
      say "still waiting for $name on $url ($((SECONDS + START_TIMEOUT - deadline))s)"
      next=$((SECONDS + 10))
    fi
    sleep 0.5
  done
}

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# --- preconditions -----------------------------------------------------------
[ -x "$BLOCKCHAIN" ] || die "$BLOCKCHAIN is missing: run make build (or make run)"
[ -x build/otelcol-chain ] || die "build/otelcol-chain is missing: run make collector (or make run)"
[ -f "$POLICY_FILE" ] || die "the sampling policy file $POLICY_FILE is missing"
declare -A WANTED=([4317]="collector OTLP gRPC" [4318]="collector OTLP HTTP" [13133]="collector health_check"
  [8888]="collector metrics" [1777]="collector pprof" [55679]="collector zpages")
for i in "${!NODES[@]}"; do
  WANTED[${PORTS[i]}]="${NODES[i]} API"
  WANTED[$((PORTS[i] + HEALTH_OFFSET))]="${NODES[i]} health"
done
for port in "${!WANTED[@]}"; do
  if port_busy "$port"; then
    die "port $port (${WANTED[$port]}) is already in use (is another make run still running?)"
  fi
done

node_list=$(IFS=,; echo "${NODES[*]}")
missing_cert=false
for n in ca "${NODES[@]}"; do [ -f "certs/$n.crt" ] || missing_cert=true; done
if $missing_cert; then
  say "writing the cluster CA and node certificates into certs/"
  "$BLOCKCHAIN" certs --dir certs --nodes "$node_list"
fi
if [ ! -f data/genesis.json ]; then
  say "writing the genesis and data folders into data/"
  "$BLOCKCHAIN" init --data-dir data --nodes "$node_list"
fi

trap 'say "stopping everything..."; stop_all; say "all stopped"; exit 0' INT TERM

# --- collector -----------------------------------------------------------------
start otelcol-chain "$LOG_DIR/otelcol-chain.log" env CHAINOTEL_POLICY_FILE="$POLICY_FILE" scripts/run-collector.sh
wait_http otelcol-chain "$COLLECTOR_HEALTH" "$LOG_DIR/otelcol-chain.log"

# --- nodes ---------------------------------------------------------------------
for i in "${!NODES[@]}"; do
  peers=()
  for j in "${!PORTS[@]}"; do [ "$j" = "$i" ] || peers+=(":${PORTS[j]}"); done
  start "${NODES[i]}" "$LOG_DIR/${NODES[i]}/stderr.log" \
    env OTEL_EXPORTER_OTLP_ENDPOINT="http://$COLLECTOR_OTLP" \
    "$BLOCKCHAIN" --node-id="${NODES[i]}" --port="${PORTS[i]}" \
    --peers="$(IFS=,; echo "${peers[*]}")" --consensus=raft
done
for i in "${!NODES[@]}"; do
  wait_http "${NODES[i]}" "http://localhost:$((PORTS[i] + HEALTH_OFFSET))/health" "$LOG_DIR/${NODES[i]}/stderr.log"
done

# /health counts the cluster members a node sees alive, itself included
# (DESIGN.md); the cluster is formed when every node sees all of them.
say "waiting for the cluster to form (each node's /health showing \"peers\":${#NODES[@]}) ..."
deadline=$((SECONDS + START_TIMEOUT))
for i in "${!NODES[@]}"; do
  url="http://localhost:$((PORTS[i] + HEALTH_OFFSET))/health"
  until curl -fsS --max-time 2 "$url" 2>/dev/null | grep -q "\"peers\":${#NODES[@]}[,}]"; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      die "${NODES[i]} does not see all ${#NODES[@]} members after ${START_TIMEOUT}s: $(curl -fsS --max-time 2 "$url" 2>&1)"
    fi
    sleep 0.5
  done
done

# --- where everything is ---------------------------------------------------------
if [ -n "${CHAINOTEL_TRACES_OTLP_ENDPOINT:-}" ]; then
  traces_out="sampled traces -> OTLP $CHAINOTEL_TRACES_OTLP_ENDPOINT; logs and span metrics -> collector/out/"
else
  traces_out="collector/out/ (traces.jsonl, logs.jsonl, metrics.jsonl)"
fi
cluster=$(curl -fsS --max-time 2 "http://localhost:$((PORTS[0] + HEALTH_OFFSET))/health" 2>/dev/null || echo '(no answer)')
{
  echo
  echo "chainotel is running (Ctrl-C stops everything):"
  for i in "${!NODES[@]}"; do
    h=$((PORTS[i] + HEALTH_OFFSET))
    printf '  %-6s API http://localhost:%s   health http://localhost:%s/health   metrics http://localhost:%s/metrics\n' \
      "${NODES[i]}" "${PORTS[i]}" "$h" "$h"
    printf '         log %s/%s/app.log (stderr: %s/%s/stderr.log)   pid %s\n' \
      "$LOG_DIR" "${NODES[i]}" "$LOG_DIR" "${NODES[i]}" "${PIDS[${NODES[i]}]}"
  done
  echo "  cluster (${NODES[0]}'s /health): $cluster"
  echo "  otelcol-chain  OTLP gRPC localhost:4317, OTLP HTTP localhost:4318   health $COLLECTOR_HEALTH"
  echo "         own metrics http://localhost:8888/metrics   zpages http://localhost:55679/debug/tracez"
  echo "         output: $traces_out"
  [ -n "${SENTRY_DSN:-}" ] && echo "         errors -> Sentry (SENTRY_DSN)"
  echo "         log $LOG_DIR/otelcol-chain.log   pid ${PIDS[otelcol-chain]}"
  echo "  sampling policies: ${POLICY_FILE#"$ROOT"/} - edit it while this runs; a valid edit applies within a second"
  echo "  head sampling strategies (its head: section): http://localhost:5778/sampling?service=blockchain"
  echo "  policy preview: curl --data-binary @EDIT.yaml http://localhost:5779/preview (GET: the live policy's figures)"
  echo "         nodes sample with OTEL_TRACES_SAMPLER=${OTEL_TRACES_SAMPLER:-always_on} (jaeger_remote follows those strategies)"
  echo
  echo "  try:  curl -X POST http://localhost:8080/tx -H 'Content-Type: application/json' \\"
  echo "             -d '{\"from\":\"0xabc\",\"to\":\"0xdef\",\"amount\":100}'"
  echo
} >&2

# --- until Ctrl-C or a process dies ------------------------------------------------
while true; do
  wait -n || true
  for name in "${ORDER[@]}"; do
    pid=${PIDS[$name]:-}
    if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
      say "$name exited unexpectedly; see its log. Stopping the rest."
      stop_all
      exit 1
    fi
  done
done

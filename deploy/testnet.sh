#!/usr/bin/env bash
# The docker compose testnet of `make testnet-up` / `make testnet-down`.
#
#   deploy/testnet.sh up [--scaleout] [--external]
#       build the images (cached), start the testnet (certs and genesis are made
#       by the one-shot certs/genesis services when missing), wait until the
#       three nodes are healthy and see each other, print the ports.
#       --scaleout adds the sampling tier (docker-compose.scaleout.yml);
#       --external adds Jaeger and Prometheus (docker-compose.external*.yml),
#       whose images must be pullable.
#   deploy/testnet.sh down
#       stop and remove its containers, network and volumes (every profile)
#
# Environment: CHAINOTEL_PROJECT (compose project name, default chainotel),
# START_TIMEOUT (seconds, default 90), CHAINOTEL_NODE<i>_API_PORT and
# CHAINOTEL_NODE<i>_HEALTH_PORT (host ports on 127.0.0.1, default 808<i>/909<i>),
# CHAINOTEL_IMAGE_TAG (default dev).
set -euo pipefail

cd "$(dirname "$0")"
PROJECT=${CHAINOTEL_PROJECT:-chainotel}
START_TIMEOUT=${START_TIMEOUT:-90}
NODES=(node0 node1 node2)

say() { echo "testnet: $*" >&2; }
die() { say "ERROR: $*"; exit 1; }

api_port() { local v="CHAINOTEL_NODE${1}_API_PORT"; echo "${!v:-808$1}"; }
health_port() { local v="CHAINOTEL_NODE${1}_HEALTH_PORT"; echo "${!v:-909$1}"; }

compose() { docker-compose --project-name "$PROJECT" "${FILES[@]}" "$@"; }

preflight() {
  command -v docker-compose >/dev/null || die "docker-compose is not installed (Debian: apt-get install docker-compose)"
  docker info >/dev/null 2>&1 || die "docker info failed: is the Docker daemon running and may you use it?"
}

up() {
  FILES=(-f docker-compose.yml)
  local profile=testnet scaleout=false external=false arg
  for arg in "$@"; do
    case "$arg" in
      --scaleout) scaleout=true ;;
      --external) external=true ;;
      *) die "up: unknown option $arg (want --scaleout, --external)" ;;
    esac
  done
  if $scaleout; then
    FILES+=(-f docker-compose.scaleout.yml)
    profile+=", scale-out profile"
  fi
  if $external && $scaleout; then
    FILES+=(-f docker-compose.external-scaleout.yml)
  elif $external; then
    FILES+=(-f docker-compose.external.yml)
  fi
  $external && profile+=", Jaeger on http://127.0.0.1:${CHAINOTEL_JAEGER_UI_PORT:-16686}, Prometheus on http://127.0.0.1:${CHAINOTEL_PROMETHEUS_PORT:-9099}"
  preflight
  local i port
  if [ -z "$(compose ps -q 2>/dev/null)" ]; then
    for i in "${!NODES[@]}"; do
      for port in "$(api_port "$i")" "$(health_port "$i")"; do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
          die "port 127.0.0.1:$port (${NODES[i]}) is in use; free it or set CHAINOTEL_NODE${i}_API_PORT / CHAINOTEL_NODE${i}_HEALTH_PORT"
        fi
      done
    done
  fi
  ./build-images.sh
  say "starting the $profile (compose project $PROJECT) ..."
  compose up -d --remove-orphans
  for i in "${!NODES[@]}"; do wait_healthy "$i"; done
  print_ports "$profile"
}

# wait_healthy i: node i's /health answers through its published port,
# counts all three members alive and names a leader.
wait_healthy() {
  local i=$1 url deadline next body
  url="http://127.0.0.1:$(health_port "$1")/health"
  deadline=$((SECONDS + START_TIMEOUT))
  next=$((SECONDS + 10))
  say "waiting for ${NODES[i]}: $url answering with \"peers\":${#NODES[@]} and a leader ..."
  until body=$(curl -fsS --max-time 2 "$url" 2>/dev/null) &&
    grep -q "\"peers\":${#NODES[@]}[,}]" <<<"$body" && grep -q '"leader":"[^"]' <<<"$body"; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      say "the last lines of ${NODES[i]}'s log:"
      compose logs --tail=30 "${NODES[i]}" >&2 || true
      die "${NODES[i]} not healthy after ${START_TIMEOUT}s (last answer: ${body:-none}); see: docker-compose -p $PROJECT -f deploy/docker-compose.yml logs"
    fi
    if [ "$SECONDS" -ge "$next" ]; then
      say "still waiting for ${NODES[i]} ($((SECONDS + START_TIMEOUT - deadline))s; last answer: ${body:-none})"
      next=$((SECONDS + 10))
    fi
    sleep 1
  done
  say "${NODES[i]} healthy: $body"
}

print_ports() {
  local i
  {
    echo
    echo "chainotel $1 is up (compose project $PROJECT; make testnet-down removes it):"
    for i in "${!NODES[@]}"; do
      printf '  %-6s API http://127.0.0.1:%s   health http://127.0.0.1:%s/health   metrics http://127.0.0.1:%s/metrics\n' \
        "${NODES[i]}" "$(api_port "$i")" "$(health_port "$i")" "$(health_port "$i")"
    done
    echo "  collectors: $(compose ps --services | grep -E 'otel|sampler' | tr '\n' ' ')(logs: docker-compose -p $PROJECT -f deploy/docker-compose.yml logs <name>)"
    echo
    echo "  try:  curl -X POST http://127.0.0.1:$(api_port 0)/tx -H 'Content-Type: application/json' \\"
    echo "             -d '{\"from\":\"0xabc\",\"to\":\"0xdef\",\"amount\":100}'"
    echo
  } >&2
}

# ran service volume: whether the project has (or had) service's container or the volume.
ran() {
  docker volume inspect "${PROJECT}_$2" >/dev/null 2>&1 ||
    [ -n "$(docker ps -aq --filter "label=com.docker.compose.project=$PROJECT" \
      --filter "label=com.docker.compose.service=$1")" ]
}

down() {
  # The files of every profile that ran, so the samplers, Jaeger, Prometheus
  # and their volumes go too (a profile's file when it did not run would
  # only make compose report its volumes as not found).
  FILES=(-f docker-compose.yml)
  preflight
  if ! ran node0 node0-data && [ -z "$(docker network ls -q --filter "name=^${PROJECT}_default$")" ]; then
    say "compose project $PROJECT has no containers, network or volumes; nothing to remove"
    return
  fi
  ran sampler0 sampler0-out && FILES+=(-f docker-compose.scaleout.yml)
  ran jaeger prometheus-data && FILES+=(-f docker-compose.external-scaleout.yml)
  say "removing the containers, network and volumes of compose project $PROJECT ..."
  compose down --volumes --remove-orphans
}

case "${1:-}" in
  up) shift; up "$@" ;;
  down) down ;;
  *) die "usage: deploy/testnet.sh up [--scaleout] [--external] | down" ;;
esac

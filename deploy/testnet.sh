#!/usr/bin/env bash
# The docker compose testnet of `make testnet-up` / `make testnet-down`.
#
#   deploy/testnet.sh up [--scaleout] [--external]
#       build the images (cached), start the testnet (certs and genesis are made
#       by the one-shot certs/genesis services when missing), wait until every
#       service's healthcheck passes (the nodes' checks /ready: a leader and a
#       quorum), printing progress, and print the ports.
#       --scaleout adds the sampling tier (docker-compose.scaleout.yml);
#       --external adds Jaeger, Prometheus and Grafana
#       (docker-compose.external*.yml), whose images must be pullable.
#   deploy/testnet.sh down
#       stop and remove its containers, network and volumes (every profile)
#
# Environment: CHAINOTEL_PROJECT (compose project name, default chainotel),
# START_TIMEOUT (seconds, default 90), CHAINOTEL_NODE<i>_API_PORT and
# CHAINOTEL_NODE<i>_HEALTH_PORT (host ports on 127.0.0.1, default 808<i>/909<i>),
# CHAINOTEL_IMAGE_TAG (default dev), CHAINOTEL_COMPOSE (the compose command:
# default `docker compose` when the v2 plugin is installed, else `docker-compose`).
set -euo pipefail

cd "$(dirname "$0")"
PROJECT=${CHAINOTEL_PROJECT:-chainotel}
START_TIMEOUT=${START_TIMEOUT:-90}
NODES=(node0 node1 node2)

say() { echo "testnet: $*" >&2; }
die() { say "ERROR: $*"; exit 1; }

api_port() { local v="CHAINOTEL_NODE${1}_API_PORT"; echo "${!v:-808$1}"; }
health_port() { local v="CHAINOTEL_NODE${1}_HEALTH_PORT"; echo "${!v:-909$1}"; }

# COMPOSE is the compose command: the v2 plugin when present, the v1
# docker-compose binary (end of life) as the fallback.
COMPOSE=()
pick_compose() {
  if [ -n "${CHAINOTEL_COMPOSE:-}" ]; then
    read -r -a COMPOSE <<<"$CHAINOTEL_COMPOSE"
  elif docker compose version >/dev/null 2>&1; then
    COMPOSE=(docker compose)
  elif command -v docker-compose >/dev/null; then
    COMPOSE=(docker-compose)
  else
    die "neither \`docker compose\` (the v2 plugin: apt-get install docker-compose-plugin) nor docker-compose is installed"
  fi
}

compose() { "${COMPOSE[@]}" --project-name "$PROJECT" "${FILES[@]}" "$@"; }

preflight() {
  pick_compose
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
  $external && profile+=", Jaeger on http://127.0.0.1:${CHAINOTEL_JAEGER_UI_PORT:-16686}, Prometheus on http://127.0.0.1:${CHAINOTEL_PROMETHEUS_PORT:-9099}, Grafana on http://127.0.0.1:${CHAINOTEL_GRAFANA_PORT:-3000}"
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
  say "starting the $profile (compose project $PROJECT, ${COMPOSE[*]}) ..."
  # The nodes wait (depends_on: service_healthy) for their sidecars, the
  # sidecars of the scale-out profile for the samplers.
  compose up -d --remove-orphans
  wait_healthy
  print_ports "$profile"
}

# health container: the container's health status ("healthy", "starting",
# "unhealthy"), "none" without a healthcheck, or its state when not running
# ("exited 0" for the one-shot services).
health() {
  docker inspect --format \
    '{{if eq .State.Status "running"}}{{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}{{else}}{{.State.Status}} {{.State.ExitCode}}{{end}}' \
    "$1" 2>/dev/null || echo gone
}

# wait_healthy: every service's container is healthy (or, for the one-shot
# certs and genesis, exited with 0), within START_TIMEOUT; says what it waits
# for every 5 s, and shows the log of what failed.
wait_healthy() {
  local deadline next svc id st waiting failed
  deadline=$((SECONDS + START_TIMEOUT))
  next=$SECONDS
  while :; do
    waiting=() failed=()
    for svc in $(compose ps --services); do
      id=$(compose ps -q "$svc")
      if [ -z "$id" ]; then
        waiting+=("$svc:not-created")
        continue
      fi
      st=$(health "$id")
      case "$st" in
        healthy | "exited 0") ;;
        unhealthy | "exited "* | dead* | gone) failed+=("$svc:${st// /-}") ;;
        *) waiting+=("$svc:${st// /-}") ;;
      esac
    done
    if [ "${#waiting[@]}" -eq 0 ] && [ "${#failed[@]}" -eq 0 ]; then
      say "every service is healthy ($((START_TIMEOUT - deadline + SECONDS))s)"
      return
    fi
    if [ "${#failed[@]}" -gt 0 ] || [ "$SECONDS" -ge "$deadline" ]; then
      for svc in "${failed[@]}" "${waiting[@]}"; do
        say "the last lines of ${svc%%:*}'s log:"
        compose logs --tail=30 "${svc%%:*}" >&2 || true
      done
      [ "${#failed[@]}" -gt 0 ] && die "failed: ${failed[*]}${waiting:+; still waiting: ${waiting[*]}}"
      die "not healthy after ${START_TIMEOUT}s: ${waiting[*]} (START_TIMEOUT raises the limit)"
    fi
    if [ "$SECONDS" -ge "$next" ]; then
      say "waiting for health ($((START_TIMEOUT - deadline + SECONDS))s of ${START_TIMEOUT}s): ${waiting[*]}"
      next=$((SECONDS + 5))
    fi
    sleep 1
  done
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
    echo "  collectors: $(compose ps --services | grep -E 'otel|sampler' | tr '\n' ' ')(logs: ${COMPOSE[*]} -p $PROJECT -f deploy/docker-compose.yml logs <name>)"
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

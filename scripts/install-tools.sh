#!/usr/bin/env bash
# Installs what the tests need beyond Go: promtool (Debian's prometheus package),
# used to check the node's /metrics exposition. Idempotent; quiet when present.
set -euo pipefail
if command -v promtool >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "install-tools: promtool is missing; run as root or: sudo apt-get install prometheus" >&2
  exit 1
fi
echo "install-tools: installing promtool (Debian package prometheus)..." >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends prometheus >/dev/null
# The package starts nothing here (no init system), and we want only promtool.
command -v promtool >/dev/null
echo "install-tools: $(promtool --version 2>&1 | head -1)" >&2

#!/usr/bin/env bash
# System packages the test suite needs beyond Node.js and npm, installed only when missing:
# Debian's chromium, for the dashboard's browser tests (tests/dashboard), and nats-server (with
# JetStream), for the cluster tests (tests/cluster), which start their own servers.
set -euo pipefail
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v nats-server >/dev/null || missing+=(nats-server)
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update
  $SUDO apt-get install -y "${missing[@]}"
fi

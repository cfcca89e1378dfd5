#!/usr/bin/env bash
# System packages the test suite needs beyond Node.js and npm: Debian's chromium, for the
# dashboard's browser tests (tests/dashboard). Installs it only when it is missing.
set -euo pipefail
if [ ! -x /usr/bin/chromium ]; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update
  $SUDO apt-get install -y chromium
fi

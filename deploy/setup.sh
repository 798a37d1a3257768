#!/usr/bin/env bash
# Set up ctrmeta on a fresh Debian or Ubuntu machine with Node 20: install the OS
# package nats-server when it is not on PATH, install the npm dependencies from the
# lockfile, and build. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v nats-server >/dev/null 2>&1 && [ ! -x /usr/sbin/nats-server ]; then
  echo "setup: installing nats-server (Debian package)"
  if [ "$(id -u)" -eq 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nats-server
  else
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nats-server
  fi
fi

node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 20 ]; then
  echo "setup: Node.js 20 or newer is required (found $(node --version))" >&2
  exit 1
fi

npm ci --no-audit --no-fund
npm run -s build
nats=$(command -v nats-server || echo /usr/sbin/nats-server)
echo "setup: done ($("$nats" --version), node $(node --version))"

#!/usr/bin/env bash
# Set up ctrmeta on a fresh Debian or Ubuntu machine with Node 20: install the OS
# package nats-server when it is not on PATH, install the npm dependencies from the
# lockfile, and build. Safe to run again.
#
# With --grpc it also installs what the gRPC endpoint and its tests use: Debian's
# golang-github-containerd-containerd-dev (containerd's .proto files, loaded at run
# time) and containerd (its `ctr`, and a private containerd to compare with).
set -euo pipefail
cd "$(dirname "$0")/.."

packages=()
if ! command -v nats-server >/dev/null 2>&1 && [ ! -x /usr/sbin/nats-server ]; then
  packages+=(nats-server)
fi
if [ "${1:-}" = "--grpc" ]; then
  [ -f /usr/share/gocode/src/github.com/containerd/containerd/api/services/containers/v1/containers.proto ] ||
    packages+=(golang-github-containerd-containerd-dev)
  command -v ctr >/dev/null 2>&1 && command -v containerd >/dev/null 2>&1 || packages+=(containerd)
fi
if [ "${#packages[@]}" -gt 0 ]; then
  echo "setup: installing Debian packages: ${packages[*]}"
  sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${packages[@]}"
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

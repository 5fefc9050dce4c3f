#!/usr/bin/env bash
# Installs everything ToolGym needs on a fresh Debian/Ubuntu machine: system packages
# (Chromium for the browser tool and viewer tests, bubblewrap and Docker for the sandbox,
# Python for the code environment) and the pnpm workspace. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

export COREPACK_ENABLE_DOWNLOAD_PROMPT=0
# onnxruntime-node's postinstall fetches the CUDA provider from NuGet; on a GPU machine with
# network access leave this unset to get CUDA. The CPU provider ships inside the npm package.
export ONNXRUNTIME_NODE_INSTALL="${ONNXRUNTIME_NODE_INSTALL:-skip}"
export npm_config_nodedir="${npm_config_nodedir:-/usr}"

missing=()
command -v chromium >/dev/null || missing+=(chromium)
command -v bwrap >/dev/null || missing+=(bubblewrap)
command -v dockerd >/dev/null || missing+=(docker.io)
command -v python3 >/dev/null || missing+=(python3)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "install.sh: please install these system packages first: ${missing[*]}" >&2
    exit 1
  fi
fi

corepack enable pnpm
if [ -n "${CI:-}" ]; then
  pnpm install --frozen-lockfile
else
  pnpm install
fi

#!/usr/bin/env bash
# Runs before every `npm test` (npm's pretest): installs what the suites need on a fresh Debian/Ubuntu machine, so the
# README's test line works as it is. Everything it installs is cached and reused, so a second run takes seconds.
#   1. Debian packages: cmake, g++, git (the llama.cpp build), libkrb5-dev (code-server's native module), ripgrep
#      (code-server's search, seeded from Debian's rg since @vscode/ripgrep would download) and chromium (the VS Code
#      tests). As root they are installed; otherwise the exact command is printed and the run stops.
#   2. node_modules: `npm ci` when missing or older than package-lock.json.
#   3. The build, llama.cpp's tools (~8-11 min on 2 cores the first time, then cached under
#      ${XDG_CACHE_HOME:-~/.cache}/haqa) and code-server 4.100.3 (~1-3 min the first time).
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
for pair in cmake:cmake g++:g++ git:git tar:tar rg:ripgrep chromium:chromium; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair##*:}")
done
dpkg -s libkrb5-dev >/dev/null 2>&1 || missing+=(libkrb5-dev)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "test-setup: the test suites need Debian packages that are missing: ${missing[*]}" >&2
    echo "  fix: sudo apt-get update && sudo apt-get install -y ${missing[*]}   (then run npm test again)" >&2
    exit 1
  fi
  echo "test-setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "test-setup: npm ci"
  npm ci --no-audit --no-fund
fi

npm run build --silent
node dist/cli.js toolchain build
node dist/cli.js toolchain status
npm run setup:vscode --silent

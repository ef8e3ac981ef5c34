# Shared helpers for the project scripts. Sourced, never run.
# shellcheck shell=bash

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DATA="$ROOT/.tandem"
mkdir -p "$DATA"

# The toolchain versions that compile together (see ../shared/TOOLCHAIN.md).
CARGO_LEPTOS_VERSION=0.3.11
WASM_BINDGEN_VERSION=0.2.130
# The CardDAV server the CardDAV connector is tested against (PyPI, project venv).
RADICALE_VERSION=3.9.0
# The BottleCRM the BottleCRM connector is tested against (PyPI `django-crm`; see
# scripts/bottlecrm.sh for how it runs where Python is older than 3.12).
BOTTLECRM_VERSION=1.35.0
VENV="$DATA/venv"

# cargo-leptos passes these to the compiler; setting them for every cargo call keeps
# `cargo test`, `cargo clippy` and `cargo leptos build` from rebuilding each other's
# dependencies.
export LEPTOS_OUTPUT_NAME=tandem
export PATH="$HOME/.cargo/bin:$PATH"

log() { printf '\033[1;34m==>\033[0m %s\n' "$*" >&2; }
warn() { printf '\033[1;33m!!\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31merror:\033[0m %s\n' "$*" >&2; exit 1; }

# Runs a command as root (directly, or through sudo when we are not root).
as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

# A TCP port nobody listens on right now.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

pg_bindir() {
  ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}

# Waits until an HTTP URL answers 200, or fails after $2 seconds.
wait_http() {
  local url=$1 timeout=${2:-60} i=0
  until curl -fsS -o /dev/null "$url" 2>/dev/null; do
    i=$((i + 1))
    [ "$i" -gt $((timeout * 5)) ] && return 1
    sleep 0.2
  done
}

#!/usr/bin/env bash
# Installs whatever the project needs and is missing, and nothing that is present:
# the wasm32 target, wasm-bindgen-cli and cargo-leptos (built from crates.io with the
# lockfile fixes rustc 1.95 needs), the PostgreSQL server, npm packages, and with
# --test Debian's Chromium and the end-to-end test packages.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

# --test: also what `make test` needs (Chromium, the end-to-end packages, Radicale,
# BottleCRM);
# --bench: what `make bench` needs beyond `make run` (Radicale).
WITH_TEST=0
WITH_RADICALE=0
case "${1:-}" in
  --test) WITH_TEST=1; WITH_RADICALE=1 ;;
  --bench) WITH_RADICALE=1 ;;
esac

# Builds a binary crate from its crates.io source after pinning one dependency back
# (its published lockfile names a version rustc 1.95 cannot build, or one yanked).
install_crate() {
  local name=$1 version=$2 pin_pkg=$3 pin_version=$4
  local work; work="$(mktemp -d)"
  log "building $name $version from crates.io (once; takes a while on 2 cores)"
  curl -fsSL "https://static.crates.io/crates/$name/$name-$version.crate" | tar xz -C "$work"
  (
    cd "$work/$name-$version"
    cargo update -p "$pin_pkg" --precise "$pin_version"
    cargo install --path . --locked --root "$HOME/.cargo"
  )
  rm -rf "$work"
}

apt_install() {
  log "installing Debian packages: $*"
  if ! as_root apt-get install -y --no-install-recommends "$@"; then
    as_root apt-get update
    as_root apt-get install -y --no-install-recommends "$@"
  fi
}

command -v curl >/dev/null || apt_install curl ca-certificates
command -v python3 >/dev/null || apt_install python3
command -v npm >/dev/null || apt_install nodejs npm

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  log "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

if ! wasm-bindgen --version 2>/dev/null | grep -q " $WASM_BINDGEN_VERSION\$"; then
  install_crate wasm-bindgen-cli "$WASM_BINDGEN_VERSION" webpki-roots 1.0.10
fi

if ! cargo leptos --version 2>/dev/null | grep -q " $CARGO_LEPTOS_VERSION\$"; then
  install_crate cargo-leptos "$CARGO_LEPTOS_VERSION" cargo-util-schemas 0.14.1
fi

if [ -z "$(pg_bindir)" ] || [ ! -x "$(pg_bindir)/initdb" ]; then
  apt_install postgresql
fi

if [ "$WITH_TEST" = 1 ] && [ ! -x /usr/bin/chromium ]; then
  apt_install chromium
fi

# Radicale, a real CardDAV server for the CardDAV tests: from PyPI into a project-local
# virtual environment (.tandem/venv), reinstalled only when the pinned version changes.
if [ "$WITH_RADICALE" = 1 ] && ! "$VENV/bin/radicale" --version 2>/dev/null | grep -qx "$RADICALE_VERSION"; then
  log "installing Radicale $RADICALE_VERSION into ${VENV#"$ROOT"/}"
  if ! python3 -m venv "$VENV" 2>/dev/null; then
    apt_install python3-venv
    rm -rf "$VENV"
    python3 -m venv "$VENV"
  fi
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "radicale==$RADICALE_VERSION"
fi

# BottleCRM, a real CRM server for the BottleCRM connector's tests (its own script: it
# needs Python 3.12, from a Debian 13 chroot where the machine has an older one).
if [ "$WITH_TEST" = 1 ]; then
  "$ROOT/scripts/bottlecrm.sh" install
fi

# npm packages: reinstalled only when the lockfile changed since the last install.
npm_ci() {
  local dir=$1 stamp="$1/node_modules/.tandem-lock-stamp"
  if [ ! -f "$stamp" ] || ! cmp -s "$dir/package-lock.json" "$stamp"; then
    log "installing npm packages in ${dir#"$ROOT"/}"
    (cd "$dir" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
    cp "$dir/package-lock.json" "$stamp"
  fi
}
# Root: binaryen's wasm-opt for release builds (Debian's breaks hydration).
npm_ci "$ROOT"
[ "$WITH_TEST" = 1 ] && npm_ci "$ROOT/end2end"
exit 0

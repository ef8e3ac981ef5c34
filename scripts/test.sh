#!/usr/bin/env bash
# `make test`: formatting, lints, unit and integration tests against a real PostgreSQL,
# then Playwright end-to-end tests in Debian's headless Chromium against the real server.
# Uses its own throwaway cluster (.tandem/test-pg) and free ports, so it can run next to
# a `make run` of the same or another clone.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

scripts/bootstrap.sh --test

# Incremental caches of the test builds take gigabytes that a one-off CI run never reuses.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"

pids=()
cleanup() {
  trap - EXIT INT TERM
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  scripts/pg.sh stop test-pg || true
  scripts/radicale.sh stop test-radicale || true
  scripts/bottlecrm.sh stop e2e-bottlecrm || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log "formatting (cargo fmt --check)"
cargo fmt --all -- --check || die "code is not formatted: run 'make fmt'"

log "layers (no module imports one above it: README, Layout)"
scripts/layers.sh || die "an import breaks the layering (above)"

log "lints (clippy, server and browser builds)"
cargo clippy --features ssr --all-targets -- -D warnings
cargo clippy --lib --target wasm32-unknown-unknown --features hydrate -- -D warnings

port="$(scripts/pg.sh start test-pg --fast)"
export DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres"
log "test PostgreSQL on port $port"

# A real CardDAV server for the CardDAV connector's tests (and the browser's).
export TANDEM_TEST_RADICALE_URL="$(scripts/radicale.sh start test-radicale)"
export TANDEM_TEST_RADICALE_USERS="$DATA/test-radicale/users"
log "test Radicale at $TANDEM_TEST_RADICALE_URL"

log "unit and integration tests (cargo test, real PostgreSQL, real Radicale)"
cargo test --features ssr -- --test-threads="${TEST_THREADS:-4}"

log "building the site (cargo leptos build --split)"
# On failure, say how much room the machine had: CI shows only the end of the output.
cargo leptos build --split || {
  df -h "$ROOT" "$ROOT/target" /tmp 2>/dev/null | sort -u >&2
  free -m >&2 || true
  die "the site build failed (output above)"
}

log "end-to-end tests (Playwright, headless Chromium)"
E2E_DATA="$DATA/e2e"
rm -rf "$E2E_DATA"
mkdir -p "$E2E_DATA"
export TANDEM_DATA_DIR="$E2E_DATA"
export TANDEM_ADMIN_PASSWORD="e2e-admin-password"
E2E_DB="postgres://postgres@127.0.0.1:$port/tandem_e2e"
"$(pg_bindir)/dropdb" -h 127.0.0.1 -p "$port" -U postgres --if-exists tandem_e2e
BIN="$ROOT/target/debug/tandem"
DATABASE_URL="$E2E_DB" "$BIN" seed --portal demo >/dev/null

# The demo CRM on a free port with its own database, for the browser tests.
DEMO_DB="postgres://postgres@127.0.0.1:$port/tandem_demo_e2e"
"$(pg_bindir)/dropdb" -h 127.0.0.1 -p "$port" -U postgres --if-exists tandem_demo_e2e
DEMO_APP_DATABASE_URL="$DEMO_DB" "$BIN" demo-app seed --account acme --contacts 50 --companies 10 \
  --deals 10 --invoices 10 >/dev/null
# A second account, for connecting several accounts of one app.
DEMO_APP_DATABASE_URL="$DEMO_DB" "$BIN" demo-app seed --account globex --contacts 5 >/dev/null
demo_port="$(free_port)"
export DEMO_APP_URL="http://127.0.0.1:$demo_port"
DEMO_APP_DATABASE_URL="$DEMO_DB" DEMO_APP_ADDR="127.0.0.1:$demo_port" "$BIN" demo-app \
  >"$E2E_DATA/demo-app.log" 2>&1 &
pids+=($!)
wait_http "$DEMO_APP_URL/healthz" 60 || { tail -n 30 "$E2E_DATA/demo-app.log"; die "demo app did not start"; }

# A HubSpot portal for the browser tests: the HubSpot-wire server (tests/support), which
# prints the address it listens on as its first line.
export TANDEM_TEST_HUBSPOT_TOKEN="pat-e2e-hubspot-token"
"$ROOT/target/debug/hubspot-wire" --addr 127.0.0.1:0 --token "$TANDEM_TEST_HUBSPOT_TOKEN" \
  >"$E2E_DATA/hubspot-wire.out" 2>"$E2E_DATA/hubspot-wire.log" &
pids+=($!)
for _ in $(seq 1 100); do
  TANDEM_TEST_HUBSPOT_URL="$(sed -n 's/^hubspot-wire listening on //p' "$E2E_DATA/hubspot-wire.out")"
  [ -n "$TANDEM_TEST_HUBSPOT_URL" ] && break
  sleep 0.1
done
[ -n "$TANDEM_TEST_HUBSPOT_URL" ] || { tail -n 30 "$E2E_DATA/hubspot-wire.log"; die "hubspot-wire did not start"; }
export TANDEM_TEST_HUBSPOT_URL

# A BottleCRM server for the browser tests (the integration tests start their own).
bottlecrm="$(scripts/bottlecrm.sh start e2e-bottlecrm)"
read -r TANDEM_TEST_BOTTLECRM_URL TANDEM_TEST_BOTTLECRM_TOKEN _ <<<"$bottlecrm"
export TANDEM_TEST_BOTTLECRM_URL TANDEM_TEST_BOTTLECRM_TOKEN

web_port="$(free_port)"
DATABASE_URL="$E2E_DB" TANDEM_ADDR="127.0.0.1:$web_port" TANDEM_DEMO_APP_URL="$DEMO_APP_URL" TANDEM_POLL_SECS=5 TANDEM_CARDDAV_POLL_SECS=2 TANDEM_HUBSPOT_POLL_SECS=2 TANDEM_BOTTLECRM_POLL_SECS=2 "$BIN" serve >"$E2E_DATA/server.log" 2>&1 &
pids+=($!)
wait_http "http://127.0.0.1:$web_port/healthz" 60 || { tail -n 30 "$E2E_DATA/server.log"; die "server did not start"; }

export TANDEM_URL="http://127.0.0.1:$web_port"
export E2E_DATABASE_URL="$E2E_DB"
export TANDEM_BIN="$BIN"
(cd end2end && npx playwright test)
log "all tests passed"

#!/usr/bin/env bash
# `make run`: install what is missing, start Postgres (unless DATABASE_URL is set),
# build, migrate, seed the demo portal, and serve on http://127.0.0.1:3000.
# Ctrl-C stops everything this script started.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

scripts/bootstrap.sh

pids=()
own_pg=0
cleanup() {
  trap - EXIT INT TERM
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ "$own_pg" = 1 ]; then
    log "stopping the project's PostgreSQL"
    scripts/pg.sh stop pg || true
    rm -f "$DATA/database_url"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ -z "${DATABASE_URL:-}" ]; then
  port="$(scripts/pg.sh start pg)"
  own_pg=1
  export DATABASE_URL="postgres://postgres@127.0.0.1:$port/tandem"
  log "PostgreSQL of this project on port $port (data in .tandem/pg)"
  # Lets `tandem token create` and other commands find this database without DATABASE_URL.
  echo "$DATABASE_URL" > "$DATA/database_url"
else
  log "using DATABASE_URL from the environment"
fi

export TANDEM_ADDR="${TANDEM_ADDR:-127.0.0.1:3000}"
export TANDEM_DATA_DIR="${TANDEM_DATA_DIR:-$DATA}"

log "building (cargo leptos build --split)"
cargo leptos build --split

BIN="$ROOT/target/debug/tandem"
"$BIN" migrate
# A modest demo data set, generated only while the demo portal has no hub records.
seed_out="$("$BIN" seed --portal demo --contacts 300 --companies 50 --deals 40 --invoices 20 --if-empty)"
echo "$seed_out"

# The bundled demo CRM (its own database next to Tandem's): two accounts to connect.
export DEMO_APP_ADDR="${DEMO_APP_ADDR:-127.0.0.1:3100}"
export DEMO_APP_URL="${DEMO_APP_PUBLIC_URL:-http://$DEMO_APP_ADDR}"
for account in acme globex; do
  "$BIN" demo-app seed --account "$account" --contacts 300 --companies 60 --deals 80 --invoices 60 --if-empty
done
"$BIN" demo-app &
pids+=($!)
wait_http "$DEMO_APP_URL/healthz" 60 || die "the demo app did not become healthy"

"$BIN" serve &
pids+=($!)
wait_http "http://$TANDEM_ADDR/healthz" 120 || die "the server did not become healthy"

cat <<MSG

  Tandem is running:  http://$TANDEM_ADDR
  Sign in:            admin@example.com  /  ${TANDEM_ADMIN_PASSWORD:-$(cat "$TANDEM_DATA_DIR/admin-password")}
  Emails:             ${TANDEM_SMTP_URL:+sent through $TANDEM_SMTP_URL}${TANDEM_SMTP_URL:-off (set TANDEM_SMTP_URL to send them)}
  API token:          target/debug/tandem token create --portal demo --user admin@example.com

  Demo CRM:           $DEMO_APP_URL   (a third-party app to connect; docs/demo-app.md)
  Its logins:         acme-admin  /  demo      globex-admin  /  demo

  Press Ctrl-C to stop.
MSG
wait -n "${pids[@]}"

#!/usr/bin/env bash
# Starts a throwaway Radicale (the CardDAV server of the tests) on a free port and prints
# its URL; `stop` ends it. Preconditions are strict (a PUT without If-Match on an
# existing card is refused), as on the servers people use. Users are read from a plain
# htpasswd file that the tests add to: `carddav-test:secret` is always there.
#   scripts/radicale.sh start NAME   ->  http://127.0.0.1:PORT
#   scripts/radicale.sh stop NAME
set -euo pipefail
source "$(dirname "$0")/lib.sh"

cmd=${1:?start or stop}
name=${2:?a name}
dir="$DATA/$name"

case "$cmd" in
  start)
    [ -x "$VENV/bin/radicale" ] || die "Radicale is not installed: run scripts/bootstrap.sh --test"
    "$0" stop "$name" 2>/dev/null || true
    rm -rf "$dir"
    mkdir -p "$dir/collections"
    port="$(free_port)"
    printf 'carddav-test:secret\n' >"$dir/users"
    cat >"$dir/config" <<CONF
[server]
hosts = 127.0.0.1:$port

[auth]
type = htpasswd
htpasswd_filename = $dir/users
htpasswd_encryption = plain
# no random pause after a refused password: the tests refuse some on purpose
delay = 0

[rights]
type = owner_only

[storage]
filesystem_folder = $dir/collections
strict_preconditions = True

[logging]
level = warning
mask_passwords = True
CONF
    "$VENV/bin/radicale" --config "$dir/config" >"$dir/log" 2>&1 &
    echo $! >"$dir/pid"
    for _ in $(seq 1 100); do
      # Radicale answers 401 to anyone it does not know: it is up.
      code="$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/" || true)"
      [ "$code" != 000 ] && { echo "http://127.0.0.1:$port"; exit 0; }
      sleep 0.1
    done
    tail -n 20 "$dir/log" >&2
    die "Radicale did not start (log above)"
    ;;
  stop)
    [ -f "$dir/pid" ] && kill "$(cat "$dir/pid")" 2>/dev/null || true
    rm -f "$dir/pid"
    ;;
  *) die "usage: $0 start|stop NAME" ;;
esac

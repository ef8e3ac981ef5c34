#!/usr/bin/env bash
# A project-local PostgreSQL cluster under .tandem/<name>.
#   scripts/pg.sh start <name> [--fast]   start (initialising once); prints the port
#   scripts/pg.sh stop <name>
#   scripts/pg.sh url <name> <database>   prints a DATABASE_URL for a running cluster
# `--fast` turns fsync off: for throwaway test clusters only, never for `make run`.
# Each cluster takes a free port when it starts, so two clones never collide.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

cmd=${1:?usage: pg.sh start|stop|url <name>}
name=${2:?cluster name}
BIN="$(pg_bindir)"
[ -x "$BIN/initdb" ] || die "PostgreSQL server binaries not found; run scripts/bootstrap.sh"

# Postgres refuses to run as root, so as root the cluster belongs to the `postgres` user.
# When that user cannot reach the project folder (a clone under /root), the data lives
# under /var/tmp, linked from .tandem/<name>.
run_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

cluster_dir() {
  local link="$DATA/$name"
  if [ -L "$link" ] || [ -d "$link" ]; then
    readlink -f "$link"
    return
  fi
  local dir="$link"
  if [ "$(id -u)" = 0 ] && ! runuser -u postgres -- test -x "$DATA"; then
    dir="/var/tmp/tandem-pg/$(echo "$ROOT" | sha256sum | cut -c1-12)/$name"
    mkdir -p "$dir"
    ln -sfn "$dir" "$link"
  fi
  mkdir -p "$dir"
  echo "$dir"
}

running_port() {
  local dir=$1
  if run_pg "$BIN/pg_ctl" -D "$dir" status >/dev/null 2>&1; then
    sed -n 4p "$dir/postmaster.pid"
  fi
}

case "$cmd" in
  start)
    fast=0; [ "${3:-}" = "--fast" ] && fast=1
    dir="$(cluster_dir)"
    port="$(running_port "$dir")"
    if [ -n "$port" ]; then echo "$port"; exit 0; fi
    if [ ! -f "$dir/PG_VERSION" ]; then
      chmod 700 "$dir"
      [ "$(id -u)" = 0 ] && chown postgres:postgres "$dir"
      log "initialising PostgreSQL cluster in ${dir}"
      run_pg "$BIN/initdb" -D "$dir" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
    fi
    port="$(free_port)"
    opts="-p $port -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c max_connections=200"
    if [ "$fast" = 1 ]; then
      # Test clusters hold many small databases for minutes: the default WAL size keeps
      # their disk use down (CI machines may have little room beside target/).
      opts="$opts -c shared_buffers=256MB -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    else
      # Room for a million-record sync: the defaults (128 MB of buffers, a checkpoint per
      # 1 GB of WAL) make bulk writes checkpoint every few seconds once the indexes
      # outgrow the buffers.
      opts="$opts -c shared_buffers=1GB -c max_wal_size=8GB -c checkpoint_timeout=15min"
    fi
    run_pg "$BIN/pg_ctl" -D "$dir" -l "$dir/server.log" -w -t 60 -o "$opts" start >/dev/null \
      || { tail -n 20 "$dir/server.log" >&2; die "PostgreSQL did not start (log above)"; }
    echo "$port"
    ;;
  stop)
    dir="$(cluster_dir)"
    if run_pg "$BIN/pg_ctl" -D "$dir" status >/dev/null 2>&1; then
      run_pg "$BIN/pg_ctl" -D "$dir" -m fast -w stop >/dev/null
    fi
    ;;
  url)
    db=${3:?database}
    port="$(running_port "$(cluster_dir)")"
    [ -n "$port" ] || die "cluster $name is not running"
    echo "postgres://postgres@127.0.0.1:$port/$db"
    ;;
  *) die "unknown command $cmd" ;;
esac

#!/usr/bin/env bash
# A throwaway BottleCRM (PyPI `django-crm`), the CRM the BottleCRM connector is tested
# against: its real REST API and real signed webhooks, on SQLite, on a free port.
#   scripts/bottlecrm.sh install       the server, once (idempotent; fast when done)
#   scripts/bottlecrm.sh start NAME    ->  URL PAT JWT   (one line)
#   scripts/bottlecrm.sh stop NAME
# URL is http://127.0.0.1:PORT. PAT is a personal access token (bcrm_pat_...) of an
# ADMIN, sent as `Authorization: Bearer PAT`; it reads and writes records but is
# refused (403) on /api/webhooks/. JWT is a signed-in session's access token of the
# same admin (1 hour), sent the same way: the only credential BottleCRM lets manage
# webhooks. $DATA/NAME/credentials.json also holds its refresh token, the org API key
# (`Token: KEY`, read-only) and the org and user ids; $DATA/NAME/log is the server log.
#
# django-crm needs Python >= 3.12. Where the machine's python3 is older (Debian 12 has
# 3.11), it runs in a Debian 13 chroot made here with debootstrap, which needs root.
# Its settings (SQLite, Celery inline, webhooks to loopback allowed) are
# tests/support/bottlecrm/tandem_test_settings.py.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

BROOT="$DATA/bottlecrm-root"
BCACHE="$DATA/bottlecrm-cache"
CACHE_DB="$BCACHE/db-$BOTTLECRM_VERSION.sqlite3"
SUPPORT="$ROOT/tests/support/bottlecrm"
TRIXIE_PACKAGES="python3 python3-venv ca-certificates libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 libcairo2 fonts-dejavu-core"

# Paths below are in the server's filesystem: the chroot's (FS is its folder on the
# host) or the host's own (FS is empty).
if python3 -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then
  MODE=host
  FS=""
  BVENV="$DATA/bottlecrm-venv"
  SUPPORT_IN="$SUPPORT"
  SRV="$DATA/bottlecrm-srv"
else
  MODE=chroot
  FS="$BROOT"
  BVENV=/opt/bottlecrm
  SUPPORT_IN=/opt/tandem-support
  SRV=/srv/bottlecrm
fi
VENV_MARK="$BVENV/.django-crm-$BOTTLECRM_VERSION"

# Writes in the chroot need root; the host's own folders do not.
priv() {
  if [ "$MODE" = chroot ]; then as_root "$@"; else "$@"; fi
}

# The environment of every command run for the server: nothing of the caller's but the
# proxy and pip settings that reaching PyPI needs (PIP_FIND_LINKS names a host folder).
server_env() {
  local v
  printf '%s\n' "PATH=$BVENV/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
    HOME=/root LANG=C.UTF-8 PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 \
    "PYTHONPATH=$SUPPORT_IN" DJANGO_SETTINGS_MODULE=tandem_test_settings
  for v in http_proxy https_proxy no_proxy HTTP_PROXY HTTPS_PROXY NO_PROXY \
    PIP_INDEX_URL PIP_EXTRA_INDEX_URL PIP_TRUSTED_HOST PIP_DEFAULT_TIMEOUT; do
    [ -n "${!v:-}" ] && printf '%s\n' "$v=${!v}"
  done
  printf '%s\n' PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_CERT=/etc/ssl/certs/ca-certificates.crt
}

# launcher DIR CMD...: sets the array LAUNCH to the command that runs CMD in DIR (a server
# path) in the server's environment. Run in the background, its pid ($!) is the
# server's own: chroot, env and sh each exec the next. in_server runs it at once.
launcher() {
  local dir=$1
  shift
  local envs
  mapfile -t envs <<<"$(server_env)"
  if [ "$MODE" = chroot ]; then
    LAUNCH=(chroot "$BROOT" /usr/bin/env -i "${envs[@]}" /bin/sh -c 'cd "$0" && exec "$@"' "$dir" "$@")
    [ "$(id -u)" = 0 ] || LAUNCH=(sudo "${LAUNCH[@]}")
  else
    LAUNCH=(env -i "${envs[@]}" /bin/sh -c 'cd "$0" && exec "$@"' "$dir" "$@")
  fi
}
in_server() {
  launcher "$@"
  "${LAUNCH[@]}"
}

# Unmounts whatever is mounted under $1 (debootstrap mounts /proc and /sys in its target
# while it runs, and leaves them there when it fails).
unmount_under() {
  local dir
  dir="$(readlink -m "$1")"
  awk -v d="$dir/" 'index($2, d) == 1 {print $2}' /proc/mounts | sort -r |
    while read -r m; do as_root umount -l "$m" 2>/dev/null || true; done
}

copy_support() {
  [ -f "$SUPPORT/tandem_test_settings.py" ] || die "$SUPPORT/tandem_test_settings.py is missing"
  if [ "$MODE" = chroot ]; then
    priv mkdir -p "$FS$SUPPORT_IN"
    # Servers start in parallel and read these files: each is replaced in one rename,
    # and only when it changed, so none is ever read half-written.
    local f dest
    for f in "$SUPPORT"/*.py; do
      dest="$FS$SUPPORT_IN/$(basename "$f")"
      cmp -s "$f" "$dest" && continue
      priv cp "$f" "$dest.$$"
      priv mv -f "$dest.$$" "$dest"
    done
  fi
}

installed() {
  [ -f "$FS$VENV_MARK" ] && [ -f "$CACHE_DB" ]
}

make_chroot() {
  [ -f "$BROOT/.tandem-ready" ] && return 0
  [ "$(id -u)" = 0 ] || command -v sudo >/dev/null ||
    die "python3 here is older than 3.12, so BottleCRM runs in a chroot, which needs root: run this as root"
  if ! command -v debootstrap >/dev/null; then
    log "installing debootstrap"
    as_root apt-get install -y -q debootstrap >/dev/null 2>&1 ||
      { as_root apt-get update -q >/dev/null && as_root apt-get install -y -q debootstrap >/dev/null; } ||
      die "could not install debootstrap: run 'apt-get update && apt-get install debootstrap' and look at its errors"
  fi
  local tmp="$BROOT.part"
  unmount_under "$tmp"
  as_root rm -rf "$tmp"
  log "making a Debian 13 (trixie) chroot with Python 3.12+ in $BROOT (about a minute)"
  trap 'unmount_under "'"$tmp"'"' EXIT
  as_root debootstrap --variant=minbase trixie "$tmp" http://deb.debian.org/debian >"$DATA/bottlecrm-debootstrap.log" 2>&1 ||
    { tail -n 15 "$DATA/bottlecrm-debootstrap.log" >&2; die "debootstrap failed (log above, all of it in $DATA/bottlecrm-debootstrap.log): check that deb.debian.org is reachable, then run install again"; }
  unmount_under "$tmp"
  # The chroot shares the host's network; it needs its resolver and the CAs that
  # this machine's TLS proxy (if any) signs with.
  as_root cp /etc/resolv.conf "$tmp/etc/resolv.conf"
  as_root mkdir -p "$tmp/usr/local/share/ca-certificates"
  if compgen -G '/usr/local/share/ca-certificates/*.crt' >/dev/null; then
    as_root cp /usr/local/share/ca-certificates/*.crt "$tmp/usr/local/share/ca-certificates/"
  fi
  log "installing Python and the libraries of PDF rendering in the chroot"
  as_root chroot "$tmp" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive \
    /bin/sh -c "apt-get update -q && apt-get install -y -q --no-install-recommends $TRIXIE_PACKAGES && update-ca-certificates && apt-get clean" \
    >"$DATA/bottlecrm-apt.log" 2>&1 ||
    { tail -n 15 "$DATA/bottlecrm-apt.log" >&2; die "apt-get in the chroot failed (log above, all of it in $DATA/bottlecrm-apt.log)"; }
  as_root touch "$tmp/.tandem-ready"
  as_root rm -rf "$BROOT"
  as_root mv "$tmp" "$BROOT"
  trap - EXIT
}

make_venv() {
  [ -f "$FS$VENV_MARK" ] && return 0
  log "installing django-crm==$BOTTLECRM_VERSION in a venv ($FS$BVENV)"
  priv rm -rf "$FS$BVENV"
  local python=python3
  [ "$MODE" = host ] && python="$(command -v python3)"
  in_server / "$python" -m venv "$BVENV" >"$DATA/bottlecrm-pip.log" 2>&1 &&
    in_server / "$BVENV/bin/pip" install "django-crm==$BOTTLECRM_VERSION" >>"$DATA/bottlecrm-pip.log" 2>&1 ||
    { tail -n 15 "$DATA/bottlecrm-pip.log" >&2; die "pip could not install django-crm==$BOTTLECRM_VERSION (log above, all of it in $DATA/bottlecrm-pip.log): check that PyPI is reachable from $([ "$MODE" = chroot ] && echo "the chroot (its CA certificates and resolv.conf)" || echo here)"; }
  in_server / "$BVENV/bin/python" -c 'import crm, gunicorn' >>"$DATA/bottlecrm-pip.log" 2>&1 ||
    die "django-crm installed but does not import (see $DATA/bottlecrm-pip.log)"
  priv touch "$FS$VENV_MARK"
}

make_db_template() {
  [ -f "$CACHE_DB" ] && return 0
  log "migrating a fresh database (about a minute and a half; cached as $CACHE_DB)"
  local build="$SRV/.template"
  priv rm -rf "$FS$build"
  priv mkdir -p "$FS$build"
  in_server "$build" env BOTTLECRM_DB="$build/db.sqlite3" django-admin migrate --noinput >"$DATA/bottlecrm-migrate.log" 2>&1 ||
    { tail -n 20 "$DATA/bottlecrm-migrate.log" >&2; die "migrate failed (log above, all of it in $DATA/bottlecrm-migrate.log)"; }
  mkdir -p "$BCACHE"
  cp "$FS$build/db.sqlite3" "$CACHE_DB.part"
  mv "$CACHE_DB.part" "$CACHE_DB"
  priv rm -rf "$FS$build"
}

# Whether process $1 exists and has not exited (a zombie has).
alive() {
  local state
  state="$(ps -o stat= -p "$1" 2>/dev/null)"
  [ -n "$state" ] && [ "${state#Z}" = "$state" ]
}

# The pid of NAME's server when it is running, else nothing.
running_pid() {
  local pidfile="$DATA/$1/pid" pid
  [ -f "$pidfile" ] || return 0
  pid="$(cat "$pidfile")"
  if [ -n "$pid" ] && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q gunicorn; then
    echo "$pid"
  fi
}

cmd=${1:-}
case "$cmd" in
  install)
    mkdir -p "$DATA" "$BCACHE"
    exec 9>"$DATA/bottlecrm.lock"
    flock 9
    [ "$MODE" = chroot ] && make_chroot
    copy_support
    make_venv
    make_db_template
    ;;
  start)
    name=${2:-}
    [ -n "$name" ] || die "usage: $0 start NAME"
    installed || die "BottleCRM $BOTTLECRM_VERSION is not installed: run scripts/bottlecrm.sh install"
    "$0" stop "$name" 2>/dev/null || true
    copy_support
    dir="$DATA/$name"
    srv="$SRV/$name"
    rm -rf "$dir"
    priv rm -rf "$FS$srv"
    mkdir -p "$dir"
    priv mkdir -p "$FS$srv"
    ln -sfn "$FS$srv" "$dir/srv"
    priv cp "$CACHE_DB" "$FS$srv/db.sqlite3"

    # The account of the tests: a user, an org, its ADMIN profile and their tokens.
    creds="$(in_server "$srv" env BOTTLECRM_DB="$srv/db.sqlite3" python "$SUPPORT_IN/make_token.py" \
      "tandem@example.com" "Tandem Test" 2>"$dir/make_token.log" | tail -n 1)" ||
      { cat "$dir/make_token.log" >&2; die "could not create the test user and its tokens (error above)"; }
    printf '%s\n' "$creds" >"$dir/credentials.json"
    chmod 600 "$dir/credentials.json"
    tokens="$(python3 -c 'import json,sys; c=json.load(sys.stdin); print(c["pat"], c["jwt_access"])' <<<"$creds")" ||
      { cat "$dir/make_token.log" >&2; die "make_token.py printed no credentials (“$creds”; its errors above)"; }
    read -r pat jwt <<<"$tokens"

    # gunicorn: the WSGI server django-crm depends on, rather than the development
    # server. One process (the in-memory throttle counters and Celery stay one); four
    # threads, so a webhook listener that calls the API back while a delivery is being
    # sent is answered. No control socket: it would be one path for every server.
    port="$(free_port)"
    url="http://127.0.0.1:$port"
    launcher "$srv" env BOTTLECRM_DB="$srv/db.sqlite3" gunicorn crm.wsgi:application \
      --bind "127.0.0.1:$port" --workers 1 --threads 4 --timeout 60 --graceful-timeout 5 \
      --no-control-socket --access-logfile - --error-logfile -
    "${LAUNCH[@]}" >"$dir/log" 2>&1 </dev/null &
    launched=$!
    echo "$launched" >"$dir/pid"
    for _ in $(seq 1 300); do
      # Alive, not "named gunicorn": until the forked shell has exec'd its way (chroot,
      # env, sh) to gunicorn, its command line is this script's.
      if ! alive "$launched"; then
        tail -n 30 "$dir/log" >&2
        die "the BottleCRM server exited at start (log above, in $dir/log)"
      fi
      if curl -fsS -o /dev/null "$url/healthz/" 2>/dev/null; then
        code="$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $pat" "$url/api/contacts/?limit=1")"
        [ "$code" = 200 ] || { "$0" stop "$name"; die "the server is up but refused the test token on /api/contacts/ (HTTP $code; log in $dir/log)"; }
        echo "$url $pat $jwt"
        exit 0
      fi
      sleep 0.1
    done
    tail -n 30 "$dir/log" >&2
    "$0" stop "$name"
    die "the BottleCRM server did not answer $url/healthz/ within 30 s (log above, in $dir/log)"
    ;;
  stop)
    name=${2:-}
    [ -n "$name" ] || die "usage: $0 stop NAME"
    pid="$(running_pid "$name")"
    if [ -n "$pid" ]; then
      # The master stops its worker, but may be gone a moment before it: wait for both.
      pids="$pid $(ps -o pid= --ppid "$pid" 2>/dev/null | tr '\n' ' ')"
      priv kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 1 100); do
        left=""
        for p in $pids; do
          if alive "$p"; then left="$left $p"; fi
        done
        [ -z "$left" ] && break
        sleep 0.1
      done
      # shellcheck disable=SC2086 # a list of pids
      if [ -n "$left" ]; then priv kill -KILL $left 2>/dev/null || true; fi
    fi
    rm -f "$DATA/$name/pid"
    ;;
  *) die "usage: $0 install | start NAME | stop NAME" ;;
esac

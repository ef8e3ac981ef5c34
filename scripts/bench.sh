#!/usr/bin/env bash
# `make bench`: scale benchmarks, not part of `make test`. Release builds, against a
# PostgreSQL cluster of their own (.tandem/bench-pg), a fresh database per benchmark.
# Every benchmark prints `BENCH <name> <value> <unit>` lines on stdout.
#
#   scripts/bench.sh              run them all
#   scripts/bench.sh hub_list     run some (names below)
#
# To add one: write `bench_<name>()` below (usually `run_cargo_bench <name>` for a
# `benches/<name>.rs` with `harness = false`) and append <name> to BENCHES.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

scripts/bootstrap.sh --bench

cleanup() { scripts/pg.sh stop bench-pg || true; }
trap cleanup EXIT
trap 'exit 130' INT TERM

port="$(scripts/pg.sh start bench-pg)"
log "benchmark PostgreSQL on port $port (data in .tandem/bench-pg)"

# A fresh, empty database; prints its URL.
fresh_db() {
  local name="bench_$1"
  "$(pg_bindir)/dropdb" -h 127.0.0.1 -p "$port" -U postgres --if-exists "$name"
  "$(pg_bindir)/createdb" -h 127.0.0.1 -p "$port" -U postgres "$name"
  echo "postgres://postgres@127.0.0.1:$port/$name"
}

# Runs `benches/<name>.rs` (release build) against a fresh database.
run_cargo_bench() {
  local name=$1
  DATABASE_URL="$(fresh_db "$name")" cargo bench --features ssr --bench "$name" 2> >(grep -v '^\s*\(Compiling\|Finished\|Running\)' >&2)
}

# The hub CRM: seed 1,000,000 contacts, time the contacts list's first and a deep page.
bench_hub_list() { run_cargo_bench hub_list; }

# The sync engine: initial two-way sync of 1,000,000 contacts from the demo app (records/s
# and peak RSS of the `tandem worker` process, next to a raw COPY of the same rows), and
# incremental latency both ways at 100 changes/s. BENCH_CONTACTS scales it down.
bench_engine_sync() { run_cargo_bench engine_sync; }

# The CardDAV connector: initial sync of 10,000 vCards from a real Radicale, records/s
# next to Radicale's own time for the same listing. BENCH_CARDS scales it.
bench_carddav_sync() {
  TANDEM_TEST_RADICALE_URL="$(scripts/radicale.sh start bench-radicale)" \
    TANDEM_TEST_RADICALE_USERS="$DATA/bench-radicale/users" run_cargo_bench carddav_sync
  scripts/radicale.sh stop bench-radicale
}

# The HubSpot connector against a HubSpot-wire portal limited to 190 requests per 10 s:
# the share of that limit a two-way initial sync uses, and its 429s (the goal: none).
# BENCH_HUBSPOT_CONTACTS scales it.
bench_hubspot_sync() { run_cargo_bench hubspot_sync; }

# The CRM Syncs tab of a 1,000,000-record sync: server-side render and its server functions.
bench_sync_object_view() { run_cargo_bench sync_object_view; }

# The release WASM the browser downloads, gzipped. Pages are split into chunks loaded on
# demand (`--split`): the goal (under 500 kB) is for the bundle every page loads first; the
# heaviest page's whole download and the sum of all chunks are printed next to it.
bench_wasm_size() {
  cargo leptos build --release --split >&2
  python3 - target/site/pkg <<'PY'
import gzip, json, pathlib, sys
pkg = pathlib.Path(sys.argv[1])
gz = {f.stem: len(gzip.compress(f.read_bytes(), 9)) for f in pkg.glob("*.wasm")}
main = gz.pop("tandem")
manifest = json.loads((pkg / "__wasm_split_manifest.json").read_text())
page_gz = {page: sum(gz[c] for c in chunks) for page, chunks in manifest.items()}
page = max(page_gz, key=page_gz.get)
print(f"heaviest page: {page} ({len(manifest[page])} chunks)", file=sys.stderr)
print(f"BENCH wasm_gzip_kb {main / 1024:.1f} kB")
print(f"BENCH wasm_gzip_heaviest_page_kb {(main + page_gz[page]) / 1024:.1f} kB")
print(f"BENCH wasm_gzip_all_chunks_kb {(main + sum(gz.values())) / 1024:.1f} kB")
PY
}

BENCHES=(hub_list engine_sync carddav_sync hubspot_sync sync_object_view wasm_size)

log "building the benchmarks (release)"
cargo bench --features ssr --benches --no-run

for name in "${@:-${BENCHES[@]}}"; do
  declare -F "bench_$name" >/dev/null || die "no benchmark called $name (have: ${BENCHES[*]})"
  log "benchmark $name"
  "bench_$name"
done

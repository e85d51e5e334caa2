#!/usr/bin/env bash
# Benchmark: goldmane-edges data-source reads over 1,000,000 edge rows vs the
# same SQL run by psql directly (interleaved, medians). Target: <= 1.2x.
#
# Starts its own PostgreSQL (initdb into a temp dir, loopback, password auth),
# loads a widened `edge` table (several rows per namespace pair, 1% '-'
# sentinel rows, all four actions) and creates the index the provider
# documents as required (docs/goldmane-edges/index.md):
#   CREATE INDEX edge_src_action_dst_idx ON edge (src_ns, action, dst_ns);
#
# Usage: bench/goldmane.sh [iterations]   (default 15)
set -euo pipefail

ITER="${1:-15}"
ROWS=1000000
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"

echo "== building the benchmark driver (release)" >&2
cargo build --quiet --release -p terraform-provider-goldmane-edges --example goldmane_bench \
  --manifest-path "$ROOT/Cargo.toml"
DRIVER="$CARGO_TARGET_DIR/release/examples/goldmane_bench"

pg_bin() {
  if command -v "$1" >/dev/null 2>&1; then command -v "$1"; return; fi
  local d
  d="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
  [ -x "$d/$1" ] || { echo "$1 not found: run scripts/install-deps.sh" >&2; exit 1; }
  echo "$d/$1"
}
INITDB="$(pg_bin initdb)"; POSTGRES="$(pg_bin postgres)"
command -v psql >/dev/null || { echo "psql not found: run scripts/install-deps.sh" >&2; exit 1; }

WORK="$(mktemp -d /tmp/goldmane-bench.XXXXXX)"
PW="bench-password-$$"
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
[ "$(id -u)" = 0 ] && chown postgres: "$WORK"
PGPID=""
cleanup() {
  # $PGPID is the runuser wrapper; the server's own PID is in postmaster.pid.
  if [ -f "$WORK/data/postmaster.pid" ]; then
    kill -QUIT "$(head -1 "$WORK/data/postmaster.pid")" 2>/dev/null || true
  fi
  if [ -n "$PGPID" ]; then wait "$PGPID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

echo "== starting PostgreSQL in $WORK" >&2
printf '%s' "$PW" > "$WORK/pw"; [ "$(id -u)" = 0 ] && chown postgres: "$WORK/pw"
as_pg "$INITDB" -D "$WORK/data" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
  --pwfile="$WORK/pw" -E UTF8 --locale=C --no-sync >/dev/null
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
as_pg "$POSTGRES" -D "$WORK/data" -k "$WORK" -p "$PORT" -c listen_addresses=127.0.0.1 \
  -c fsync=off -c synchronous_commit=off -c shared_buffers=256MB -c work_mem=64MB \
  >"$WORK/server.log" 2>&1 &
PGPID=$!
for _ in $(seq 1 200); do
  psql -X -h "$WORK" -p "$PORT" -U postgres -d postgres -Atc 'select 1' >/dev/null 2>&1 && break
  sleep 0.1
done
sql() { psql -X -q -v ON_ERROR_STOP=1 -h "$WORK" -p "$PORT" -U postgres -d goldmane_edges "$@"; }
psql -X -q -h "$WORK" -p "$PORT" -U postgres -d postgres -c 'CREATE DATABASE goldmane_edges'

echo "== loading $ROWS edge rows" >&2
sql <<SQL
CREATE TABLE edge(src_ns text NOT NULL, dst_ns text NOT NULL, action text NOT NULL,
  first_seen timestamptz NOT NULL, last_seen timestamptz NOT NULL, flow_count bigint NOT NULL,
  src_workload text, src_type text, dst_workload text, dst_type text,
  dst_service text, dst_service_ns text, dst_port bigint,
  pre_widening boolean GENERATED ALWAYS AS (src_type IS NULL) STORED);
INSERT INTO edge (src_ns, dst_ns, action, first_seen, last_seen, flow_count,
                  src_workload, src_type, dst_workload, dst_type, dst_port)
SELECT 'ns-' || lpad((i % 300)::text, 3, '0'),
       CASE WHEN i % 100 = 0 THEN '-' ELSE 'ns-' || lpad(((i * 7 + i / 300) % 300)::text, 3, '0') END,
       (ARRAY['allow','allow','allow','allow','allow','allow','allow','deny','pass','unspecified'])[1 + (i / 300) % 10],
       now() - make_interval(secs => 60 * 86400 - (i % 5000) * 60),
       now() - make_interval(secs => (i % 20000) * 60),
       1 + i % 1000,
       'w' || (i % 13), CASE WHEN i % 3 = 0 THEN NULL ELSE 'workload' END,
       'w' || (i % 17), 'workload', (ARRAY[0, 80, 443, 5432, 6379])[1 + i % 5]
FROM generate_series(1, $ROWS) AS i;
CREATE INDEX edge_src_action_dst_idx ON edge (src_ns, action, dst_ns);
VACUUM ANALYZE edge;
SQL
sql -At -c "SELECT 'rows: ' || count(*) || ', distinct pairs: ' || count(DISTINCT (src_ns, dst_ns)) FROM edge" >&2

echo "== timing $ITER interleaved rounds" >&2
PGHOST=127.0.0.1 PGSSLMODE=disable PGPORT="$PORT" PGUSER=postgres PGPASSWORD="$PW" PGDATABASE=goldmane_edges \
  "$DRIVER" "$ITER" ns-017

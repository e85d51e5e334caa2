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

. "$ROOT/bench/lib/pg.sh"
command -v psql >/dev/null || { echo "psql not found: run scripts/install-deps.sh" >&2; exit 1; }

WORK="$(mktemp -d /tmp/goldmane-bench.XXXXXX)"
trap 'pg_stop; rm -rf "$WORK"' EXIT

echo "== starting PostgreSQL in $WORK" >&2
pg_start "$WORK/pg" goldmane_edges -- \
  -c fsync=off -c synchronous_commit=off -c shared_buffers=256MB -c work_mem=64MB
sql() { psql -X -q -v ON_ERROR_STOP=1 -h "$pg_dir" -p "$pg_port" -U postgres -d goldmane_edges "$@"; }

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
PGHOST=127.0.0.1 PGSSLMODE=disable PGPORT="$pg_port" PGUSER=postgres PGPASSWORD="$pg_password" PGDATABASE=goldmane_edges \
  "$DRIVER" "$ITER" ns-017

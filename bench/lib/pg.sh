# Sourced by the benches whose Tier-1 stacks need their state database: tg
# refuses a Tier-1 stack whose state would not go to its own schema of the
# pg backend (docs/tg.md, "State only where its tier says").
# pg_start DIR DB... [-- SERVER_ARG...]: a PostgreSQL on a free loopback
# port with data in DIR (its socket there too) and the databases DB...,
# the server started with SERVER_ARG... (e.g. -c fsync=off); sets $pg_dir,
# $pg_port and $pg_password.
# pg_stop: stops it (call from the script's EXIT trap).
# pg_url DB: a password URL of DB over TCP.
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
pg_bin() {
  if command -v "$1" >/dev/null 2>&1; then command -v "$1"; return; fi
  local d
  d="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
  [ -x "$d/$1" ] || { echo "$1 not found: run scripts/install-deps.sh" >&2; exit 1; }
  echo "$d/$1"
}
pg_as() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
pg_start() {
  pg_dir="$1"; shift
  local dbs=() server_args=()
  while [ $# -gt 0 ] && [ "$1" != -- ]; do dbs+=("$1"); shift; done
  [ $# -gt 0 ] && { shift; server_args=("$@"); }
  pg_password="bench-password-$$"
  mkdir -p "$pg_dir"; chmod 755 "$(dirname "$pg_dir")" "$pg_dir"
  [ "$(id -u)" = 0 ] && chown postgres: "$pg_dir"
  printf '%s' "$pg_password" > "$pg_dir/pw"; [ "$(id -u)" = 0 ] && chown postgres: "$pg_dir/pw"
  pg_as "$(pg_bin initdb)" -D "$pg_dir/data" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
    --pwfile="$pg_dir/pw" -E UTF8 --locale=C --no-sync >/dev/null
  pg_port="$(free_port)"
  pg_as "$(pg_bin postgres)" -D "$pg_dir/data" -k "$pg_dir" -p "$pg_port" -c listen_addresses=127.0.0.1 \
    "${server_args[@]}" >"$pg_dir/server.log" 2>&1 &
  pg_wrapper=$!
  for _ in $(seq 1 200); do
    psql -X -h "$pg_dir" -p "$pg_port" -U postgres -d postgres -Atc 'select 1' >/dev/null 2>&1 && break
    sleep 0.1
  done
  local db
  for db in "${dbs[@]}"; do psql -X -q -h "$pg_dir" -p "$pg_port" -U postgres -d postgres -c "CREATE DATABASE $db"; done
}
pg_stop() {
  # $pg_wrapper may be runuser; the server's own PID is in postmaster.pid.
  if [ -n "${pg_dir:-}" ] && [ -f "$pg_dir/data/postmaster.pid" ]; then
    kill -QUIT "$(head -1 "$pg_dir/data/postmaster.pid")" 2>/dev/null || true
  fi
  if [ -n "${pg_wrapper:-}" ]; then wait "$pg_wrapper" 2>/dev/null || true; fi
}
pg_url() { echo "postgres://postgres:$pg_password@127.0.0.1:$pg_port/$1?sslmode=disable"; }

#!/usr/bin/env bash
# The quickstart: install prerequisites, build everything, start local
# services, apply the example infra repo (examples/) with `tg`, then run
# `tg ci drift` and show there is no drift.
#
# Local services (all on 127.0.0.1, under .demo/):
#   - PostgreSQL (real): the Tier-1 state database and the goldmane `edge` trail
#   - the Authentik API EMULATOR (testdata/authentik-emulator) — not Authentik
#   - the Forgejo package-API EMULATOR (testdata/forgejo-emulator) — not Forgejo
#   - an age key for the Tier-0 stack's SOPS-encrypted state
#   - OpenBao (real, dev mode): the Vault KV v2 entry that is the Tier-0 lock
#   - a bare git repository standing in for the forge (Tier-0 state commits are pushed there)
#
# Usage: scripts/demo.sh [--keep]   (--keep leaves the services running)
# Env:   DEMO_SKIP_INSTALL=1  skip scripts/install-deps.sh
#        DEMO_BIN_DIR=DIR     use prebuilt binaries (tg, providers, emulator) instead of building
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
keep=false; [ "${1:-}" = "--keep" ] && keep=true
demo="$root/.demo"
say() { printf '\n\033[1m[demo] %s\033[0m\n' "$*"; }
# Waits (up to 60 s: a loaded machine starts services slowly) until URL
# answers from the process PID we started; fails naming the service and
# showing its log otherwise (e.g. the port taken by another demo).
wait_http() {
  local what=$1 url=$2 log=$3 pid=$4
  for _ in $(seq 1 600); do
    kill -0 "$pid" 2>/dev/null || break
    curl -s -o /dev/null "$url" && return 0; sleep 0.1
  done
  echo "[demo] $what (pid $pid) did not answer at $url; its log ($log):" >&2
  tail -30 "$log" >&2; exit 1
}

[ "${DEMO_SKIP_INSTALL:-}" = 1 ] || ./scripts/install-deps.sh

# ---- binaries -------------------------------------------------------------
if [ -n "${DEMO_BIN_DIR:-}" ]; then
  bin="$DEMO_BIN_DIR"
else
  say "building tg, the providers and the emulator (release)"
  cargo build --release --quiet -p tg-wrapper -p authentik-emulator -p forgejo-emulator \
    -p terraform-provider-authentik-forward-auth -p terraform-provider-goldmane-edges -p terraform-provider-forgejo-retention
  bin="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/release"
fi
for b in tg authentik-emulator forgejo-emulator terraform-provider-authentik-forward-auth terraform-provider-goldmane-edges terraform-provider-forgejo-retention; do
  [ -x "$bin/$b" ] || { echo "[demo] missing $bin/$b" >&2; exit 1; }
done

# Stop anything a previous --keep run left behind.
[ -x "$demo/stop.sh" ] && "$demo/stop.sh" >/dev/null 2>&1 || true
rm -rf "$demo"; mkdir -p "$demo"
stop_cmds=()
cleanup() {
  if ! $keep; then
    for c in "${stop_cmds[@]}"; do eval "$c" >/dev/null 2>&1 || true; done
  fi
}
trap cleanup EXIT

# ---- providers as a filesystem mirror --------------------------------------
say "laying out the providers as a filesystem mirror"
PROVIDERS_BIN_DIR="$bin" ./scripts/providers-install.sh "$demo/providers" >/dev/null
export TF_CLI_CONFIG_FILE="$demo/providers/cli.tfrc" TF_IN_AUTOMATION=1 CHECKPOINT_DISABLE=1

# Fixed ports, all below the kernel's ephemeral range (32768-60999 by
# default): a port in that range can be held at any moment by the local end
# of some outgoing connection, and the service would fail to bind (seen in CI).
# ---- PostgreSQL -------------------------------------------------------------
say "starting PostgreSQL on 127.0.0.1:25432 (.demo/pg)"
pgbin=$(dirname "$(command -v initdb || ls /usr/lib/postgresql/*/bin/initdb | tail -1)")
as_pg=(); [ "$(id -u)" = 0 ] && as_pg=(runuser -u postgres --)
mkdir -p "$demo/pg"; [ "$(id -u)" = 0 ] && chown postgres: "$demo/pg"
pgpass=demo-superuser-password
echo "$pgpass" > "$demo/pgpw"; [ "$(id -u)" = 0 ] && chown postgres: "$demo/pgpw"
"${as_pg[@]}" "$pgbin/initdb" -D "$demo/pg/data" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
  --pwfile="$demo/pgpw" -E UTF8 --locale=C --no-sync >/dev/null
"${as_pg[@]}" "$pgbin/pg_ctl" -D "$demo/pg/data" -l "$demo/pg/server.log" -w \
  -o "-c listen_addresses=127.0.0.1 -p 25432 -k $demo/pg -c fsync=off" start >/dev/null
stop_cmds+=("${as_pg[*]} $pgbin/pg_ctl -D $demo/pg/data -m immediate stop")
psql_do() { psql -X -q -v ON_ERROR_STOP=1 -h "$demo/pg" -p 25432 -U postgres "$@"; }
psql_do -d postgres -c "CREATE DATABASE terraform_state" -c "CREATE DATABASE goldmane_edges"
psql_do -d goldmane_edges <<'SQL'
CREATE TABLE edge(src_ns text NOT NULL, dst_ns text NOT NULL, action text NOT NULL,
  first_seen timestamptz NOT NULL, last_seen timestamptz NOT NULL, flow_count bigint NOT NULL,
  PRIMARY KEY (src_ns, dst_ns, action));
CREATE INDEX edge_src_action_dst ON edge (src_ns, action, dst_ns);
INSERT INTO edge VALUES
  ('recruiter-responder', 'dbaas',       'allow', now() - interval '21 days', now() - interval '10 minutes', 812),
  ('recruiter-responder', 'redis',       'allow', now() - interval '21 days', now() - interval '12 minutes', 3021),
  ('recruiter-responder', 'kube-system', 'allow', now() - interval '21 days', now() - interval '1 minute',  9120),
  ('recruiter-responder', '-',           'allow', now() - interval '20 days', now() - interval '5 minutes',  77),
  ('monitoring',          'recruiter-responder', 'allow', now() - interval '21 days', now() - interval '2 minutes', 4410);
SQL
export PG_CONN_STR="postgres://postgres:$pgpass@127.0.0.1:25432/terraform_state?sslmode=disable"
export TF_VAR_pg_host=127.0.0.1 TF_VAR_pg_port=25432 TF_VAR_pg_database=goldmane_edges TF_VAR_pg_sslmode=disable
export PGUSER=postgres PGPASSWORD="$pgpass"

# ---- OpenBao: the Tier-0 lock ------------------------------------------------
say "starting OpenBao (dev mode) on 127.0.0.1:28200 for the Tier-0 lock (KV v2 at secret/)"
HOME="$demo" bao server -dev -dev-no-store-token -dev-root-token-id=demo-root-token \
  -dev-listen-address=127.0.0.1:28200 > "$demo/openbao.log" 2>&1 &
bao_pid=$!; stop_cmds+=("kill $bao_pid")
wait_http OpenBao "http://127.0.0.1:28200/v1/sys/health" "$demo/openbao.log" "$bao_pid"
export VAULT_ADDR=http://127.0.0.1:28200 VAULT_TOKEN=demo-root-token

# ---- Authentik emulator ----------------------------------------------------
say "starting the Authentik API EMULATOR on 127.0.0.1:29000 (not a real Authentik)"
"$bin/authentik-emulator" 127.0.0.1:29000 > "$demo/authentik-emulator.log" 2>&1 &
emu_pid=$!; stop_cmds+=("kill $emu_pid")
wait_http "the Authentik emulator" "http://127.0.0.1:29000/api/v3/core/users/" "$demo/authentik-emulator.log" "$emu_pid"
export AUTHENTIK_URL=http://127.0.0.1:29000 AUTHENTIK_TOKEN=emulator-admin-token
# The carve-out probe needs a reachable public URL: the emulator root (404, no redirect).
export TF_VAR_carveout_url=http://127.0.0.1:29000/

# ---- Forgejo package-API emulator -------------------------------------------
say "starting the Forgejo package-API EMULATOR on 127.0.0.1:29100 (not a real Forgejo)"
"$bin/forgejo-emulator" 127.0.0.1:29100 emulator-forgejo-token homelab > "$demo/forgejo-emulator.log" 2>&1 &
fe_pid=$!; stop_cmds+=("kill $fe_pid")
wait_http "the Forgejo emulator" "http://127.0.0.1:29100/api/v1/user" "$demo/forgejo-emulator.log" "$fe_pid"
export FORGEJO_URL=http://127.0.0.1:29100 FORGEJO_TOKEN=emulator-forgejo-token

# ---- the example repo ------------------------------------------------------
say "copying examples/ into .demo/repo (a git repo, as tg expects) with a fresh age key"
cp -r "$root/examples" "$demo/repo"
cd "$demo/repo"
age-keygen -o "$demo/age.txt" 2>"$demo/age.pub"
recipient=$(sed 's/Public key: //' "$demo/age.pub")
cat > .sops.yaml <<EOF
# Tier-0 state: Vault Transit in production (add hc_vault_transit_uri), the
# age key as break-glass. The demo uses only a local age key.
creation_rules:
  - path_regex: ^state/.*\.tfstate$
    age: $recipient
EOF
printf '.terraform/\n.terraform.lock.hcl\n*.tfstate.backup\n' > .gitignore
git init -q -b main && git add -A && git -c user.email=demo@example.invalid -c user.name=demo commit -qm "example infra repo"
git config user.email demo@example.invalid; git config user.name "tg demo"
# The forge: Tier-0 applies sync with it first and push their state commit after.
git init -q --bare -b main "$demo/forge.git"
git remote add origin "$demo/forge.git" && git push -q -u origin main
export SOPS_AGE_KEY_FILE="$demo/age.txt" PATH="$bin:$PATH" TG_ENGINE=terraform

stacks=(bootstrap app-config goldmane-egress forward-auth registry-retention)
for s in "${stacks[@]}"; do
  say "tg init + tg apply --stack $s --non-interactive"
  tg init --stack "$s" -input=false >/dev/null
  if ! tg apply --stack "$s" --non-interactive -no-color > "$demo/$s.apply.log" 2>&1; then
    tail -50 "$demo/$s.apply.log"; echo "[demo] apply of $s FAILED (full log: $demo/$s.apply.log)" >&2; exit 1
  fi
  grep -E "^Apply complete" "$demo/$s.apply.log"
done

say "state where each tier says: every Tier-1 stack has rows in its own schema, no plaintext state file"
tg doctor > "$demo/doctor.log" 2>&1 || true
grep '^PASS backend\|^FAIL backend' "$demo/doctor.log"
for s in "${stacks[@]}"; do
  line=$(grep "^PASS backend $s: " "$demo/doctor.log") || { echo "[demo] tg doctor does not pass the backend of $s" >&2; exit 1; }
  case "$line" in *"Tier-0"*) continue;; esac
  schema=$(sed -n 's/.*, pg, schema \([A-Za-z0-9_]*\) (.*/\1/p' <<<"$line")
  [ -n "$schema" ] || { echo "[demo] no pg schema for $s: $line" >&2; exit 1; }
  n=$(psql_do -At -d terraform_state -c "SELECT count(*) FROM \"$schema\".states")
  [ "$n" -ge 1 ] || { echo "[demo] $s has no state rows in schema $schema" >&2; exit 1; }
  echo "[demo] $s: $n state row(s) in schema terraform_state.$schema"
done
# Tier-0 state under state/ is SOPS-encrypted; .terraform/terraform.tfstate is
# terraform's backend cache (no state). Anything else is plaintext state.
stray=$(find . -path ./.git -prune -o -path '*/.terraform' -prune -o -name 'terraform.tfstate*' -print | grep -v '^./state/' || true)
[ -z "$stray" ] || { echo "[demo] plaintext state in the repo: $stray" >&2; exit 1; }
for f in $(find ./state -name 'terraform.tfstate'); do
  grep -q '"sops"' "$f" || { echo "[demo] $f is not SOPS-encrypted" >&2; exit 1; }
done
echo "[demo] no plaintext state file in the repo"

say "tg ci drift (nightly drift run) — expecting no drift"
set +e
tg ci drift
drift=$?
set -e

say "done"
cat <<EOF
What happened:
  - Tier-0 stack 'bootstrap': lock taken in OpenBao (secret/tg/locks/bootstrap), state
    decrypted/encrypted with SOPS (age), committed and pushed to the forge (.demo/forge.git):
      $(git --git-dir "$demo/forge.git" log --format='%s' -1 -- state/stacks/bootstrap/terraform.tfstate)
  - Tier-1 stacks: state in PostgreSQL (schemas in database terraform_state on 127.0.0.1:25432)
  - goldmane-egress: allowlist from the local edge trail; forward-auth: objects in the Authentik EMULATOR
  - registry-retention: a dry-run retention plan over the Forgejo EMULATOR's demo images
  - tg ci drift exit status: $drift (0 = no drift)

Point it at real services instead:
  PostgreSQL state:  export PG_CONN_STR=postgres://…  (or VAULT_ADDR + a token: tg reads database/static-creds/pg-terraform-state)
  Vault / Tier-0:    add hc_vault_transit_uri to .sops.yaml; VAULT_ADDR + VAULT_TOKEN, with the lock policy of docs/tg.md (age stays the break-glass key)
  Authentik:         export AUTHENTIK_URL=https://authentik.example.org AUTHENTIK_TOKEN=…  (a token with admin rights on providers/applications/outposts)
  Goldmane trail:    TF_VAR_pg_host/port/database for the goldmane_edges database; PGPASSWORD or VAULT_ADDR (static role pg-goldmane-edges)
  Forgejo:           see docs/forgejo-retention/index.md
  Providers:         scripts/providers-install.sh prints the CLI config and lock entries for your machines
EOF
$keep && echo "[demo] services left running; stop them with: $demo/stop.sh"
printf '#!/bin/sh\n%s\n' "$(printf '%s\n' "${stop_cmds[@]}")" > "$demo/stop.sh"; chmod +x "$demo/stop.sh"
exit "$drift"

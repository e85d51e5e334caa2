#!/usr/bin/env bash
# What the Tier-0 lock in Vault and the sync with the forge cost a no-op
# `tg apply` of a Tier-0 stack (real terraform, one terraform_data, age-
# encrypted state): the full run (Vault lock in OpenBao + fetch from a bare
# forge repo) vs the same run with the break-glass file lock in a clone
# without a remote (what a Tier-0 apply cost before the shared lock),
# interleaved, median of N runs. Also counts the Vault requests of one run
# (through a counting pass-through proxy: OpenBao only enables audit
# devices from its config file). A no-op `tg plan` takes no lock.
# Usage: bench/tier0-lock.sh [runs]   (default 15)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib/common.sh
runs="${1:-15}"
cargo build --release --quiet -p tg-wrapper --bin tg
target="$(target_dir)"
tg="$target/release/tg"
work=$(mktemp -d)
port=$(free_port)
HOME="$work" bao server -dev -dev-no-store-token -dev-root-token-id=bench-root \
  -dev-listen-address="127.0.0.1:$port" > "$work/bao.log" 2>&1 &
bao_pid=$!
trap 'kill $bao_pid 2>/dev/null; rm -rf "$work"' EXIT
export VAULT_ADDR="http://127.0.0.1:$port" VAULT_TOKEN=bench-root
for _ in $(seq 1 100); do curl -sf -o /dev/null "$VAULT_ADDR/v1/sys/health" && break; sleep 0.1; done
age-keygen -o "$work/age.txt" 2>"$work/age.pub"
export SOPS_AGE_KEY_FILE="$work/age.txt" TG_ENGINE=terraform TF_IN_AUTOMATION=1 CHECKPOINT_DISABLE=1 TF_CLI_CONFIG_FILE=/dev/null TG_TMPDIR="$work/tmp"
mkdir -p "$work/tmp" "$work/seed/stacks/infra"
cd "$work/seed"
echo 'locals { tier0_stacks = ["infra"] }' > terragrunt.hcl
printf 'resource "terraform_data" "x" {\n  input = "noop"\n}\n' > stacks/infra/main.tf
printf 'creation_rules:\n  - path_regex: ^state/.*\n    age: %s\n' "$(sed 's/Public key: //' "$work/age.pub")" > .sops.yaml
printf '.terraform/\n.terraform.lock.hcl\n' > .gitignore
git init -q -b main && git add -A && git -c user.email=b@x -c user.name=b commit -qm seed
git init -q --bare -b main "$work/forge.git" && git remote add origin "$work/forge.git" && git push -q -u origin main
git config user.email b@x; git config user.name bench
git clone -q --no-local "$work/seed" "$work/noremote" && git -C "$work/noremote" remote remove origin
git -C "$work/noremote" config user.email b@x; git -C "$work/noremote" config user.name bench
for repo in "$work/seed" "$work/noremote"; do
  (cd "$repo" && "$tg" init --stack infra -input=false >/dev/null && "$tg" apply --stack infra --non-interactive --local-lock >/dev/null 2>&1)
done
git -C "$work/seed" push -q
python3 - "$tg" "$work" "$runs" <<'PY'
import http.client, http.server, os, subprocess, sys, threading, time, statistics
tg, work, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
upstream = os.environ["VAULT_ADDR"].split("//")[1]
count = [0]
class Proxy(http.server.BaseHTTPRequestHandler):
    def relay(self):
        count[0] += 1
        body = self.rfile.read(int(self.headers.get("Content-Length", 0) or 0))
        c = http.client.HTTPConnection(upstream)
        c.request(self.command, self.path, body, {k: v for k, v in self.headers.items() if k.lower() != "host"})
        r = c.getresponse(); data = r.read()
        self.send_response(r.status)
        for k, v in r.getheaders():
            if k.lower() not in ("transfer-encoding", "connection", "content-length", "date", "server"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data))); self.end_headers(); self.wfile.write(data)
    do_GET = do_POST = do_PUT = do_DELETE = relay
    def log_message(self, *a): pass
srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Proxy)
threading.Thread(target=srv.serve_forever, daemon=True).start()
def run(repo, extra, env=None):
    t = time.perf_counter()
    subprocess.run([tg, "apply", "--stack", "infra", "--non-interactive", *extra], cwd=f"{work}/{repo}",
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    return time.perf_counter() - t
counted = dict(os.environ, VAULT_ADDR=f"http://127.0.0.1:{srv.server_port}")
run("seed", [], counted)  # the entry's first lock
count[0] = 0
run("seed", [], counted)
per_run = count[0]
for _ in range(2): run("seed", []); run("noremote", ["--local-lock"])
shared, local = [], []
for _ in range(runs):
    shared.append(run("seed", []))
    local.append(run("noremote", ["--local-lock"]))
s, l = statistics.median(shared), statistics.median(local)
print(f"no-op Tier-0 apply: shared lock + sync {s*1000:.0f} ms, file lock {l*1000:.0f} ms, +{(s-l)*1000:.0f} ms; {per_run} Vault requests per run")
print(f"BENCH|tier0-lock|no-op Tier-0 tg apply: Vault lock + forge sync vs file lock, no remote (s)|{s:.3f}|{l:.3f}|{s/l:.3f}|-")
print(f"BENCH|tier0-lock|Vault requests per no-op Tier-0 apply (read, take, release)|{per_run}|-|-|<= 3")
PY

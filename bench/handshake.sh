#!/usr/bin/env bash
# Provider start-up: exec of a release provider binary → its go-plugin
# handshake line on stdout, median of N runs, without and with AutoMTLS
# (PLUGIN_CLIENT_CERT set to a Terraform-like CA-flagged P-521 cert, so the
# provider generates its own certificate and pins the client's).
# Usage: bench/handshake.sh [runs]   (default 200)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib/common.sh
runs="${1:-200}"
cargo build --release --quiet -p tfplugin --example bench_provider
bin="$(target_dir)/release/examples/bench_provider"
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-521 -nodes -subj /CN=localhost -days 1 \
  -addext basicConstraints=critical,CA:TRUE -keyout "$work/k.pem" -out "$work/c.pem" 2>/dev/null
python3 - "$bin" "$work/c.pem" "$runs" <<'PY'
import os, subprocess, sys, time, statistics
binary, cert_file, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
cert = open(cert_file).read()
def once(tls):
    env = dict(os.environ, TF_PLUGIN_MAGIC_COOKIE="d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2",
               PLUGIN_PROTOCOL_VERSIONS="6")
    env.pop("PLUGIN_CLIENT_CERT", None)
    if tls:
        env["PLUGIN_CLIENT_CERT"] = cert
    t = time.perf_counter()
    p = subprocess.Popen([binary], env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    line = p.stdout.readline()
    dt = (time.perf_counter() - t) * 1000
    p.kill(); p.wait()
    fields = line.decode().strip().split("|")
    assert fields[:2] == ["1", "6"] and (len(fields) == 6) == tls, line
    return dt
# Interleave so both see the same machine state; warm the page cache first.
for _ in range(5): once(False); once(True)
plain, tls = [], []
for _ in range(runs):
    plain.append(once(False)); tls.append(once(True))
p50 = statistics.median(plain); t50 = statistics.median(tls)
# A floor for "exec a process and read one line": /bin/true's cost is the same spawn path.
base = []
for _ in range(runs):
    t = time.perf_counter(); subprocess.run(["/bin/echo", "x"], stdout=subprocess.DEVNULL); base.append((time.perf_counter() - t) * 1000)
b50 = statistics.median(base)
print(f"exec → handshake line, median of {runs}: plain {p50:.2f} ms, AutoMTLS {t50:.2f} ms (exec of /bin/echo: {b50:.2f} ms)")
print(f"BENCH|handshake|exec→handshake, plain (ms)|{p50:.2f}|{b50:.2f}|{p50/b50:.2f}|-")
print(f"BENCH|handshake|exec→handshake, AutoMTLS + client pinning (ms)|{t50:.2f}|{p50:.2f}|{t50/p50:.2f}|<= 5 ms")
PY

#!/usr/bin/env python3
"""Campaign 5 (Authentik): plan + apply of N `fwdauth_protected_host`
through real terraform and the provider, against the Authentik emulator
behind `fault_proxy.py`, which injects one fault every K requests (5xx,
connection resets before and after the server acted, timeouts beyond the
provider's `timeout_seconds`).

An apply that the faults made fail is applied again (as a human or `tg ci`
would), up to `--applies` times. Then, with the faults off, it checks:
- convergence: `terraform plan -detailed-exitcode` is empty;
- nothing wrong in Authentik: exactly N applications and N proxy providers
  with the expected slugs, each provider on the embedded outpost once
  (no duplicate left by a create that succeeded on the server but failed
  for the client, no orphan).

Prints REL| rows for reliability/run.sh.
Usage: provider_faults.py BIN_DIR [--hosts N] [--every K] [--applies A] [--log FILE]
(BIN_DIR may be relative; `--log` writes the proxy's request log and the
terraform output of every step, to read a failed run back.)
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fault_proxy import FaultProxy  # noqa: E402
from ports import free_port  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("bin_dir")
    ap.add_argument("--hosts", type=int, default=100)
    ap.add_argument("--every", type=int, default=10)
    ap.add_argument("--applies", type=int, default=5)
    ap.add_argument("--log", help="write the proxy's request log and terraform's output here")
    a = ap.parse_args()
    # terraform reads dev_overrides from a config file in another directory,
    # where a relative path would mean something else.
    a.bin_dir = os.path.abspath(a.bin_dir)
    work = tempfile.mkdtemp(prefix="rel-faults-")
    port = free_port()
    emu = subprocess.Popen([os.path.join(a.bin_dir, "authentik-emulator"), f"127.0.0.1:{port}"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            urllib.request.urlopen(url + "/_emulator/stats", timeout=1)
            break
        except OSError:
            time.sleep(0.05)
    log = [] if a.log else None
    proxy = FaultProxy(port, a.every, hang=3.0, log=log)
    try:
        with open(os.path.join(work, "cli.tfrc"), "w") as f:
            f.write('provider_installation {\n  dev_overrides {\n'
                    f'    "registry.terraform.io/homelab/authentik-forward-auth" = "{a.bin_dir}"\n'
                    '  }\n  direct {}\n}\ndisable_checkpoint = true\n')
        with open(os.path.join(work, "main.tf"), "w") as f:
            f.write('terraform {\n  required_providers {\n    fwdauth = { source = '
                    '"registry.terraform.io/homelab/authentik-forward-auth" }\n  }\n}\n'
                    'provider "fwdauth" {\n  timeout_seconds = 2\n}\n'
                    'resource "fwdauth_protected_host" "h" {\n'
                    f'  count           = {a.hosts}\n'
                    '  slug            = "host-${count.index}"\n'
                    '  name            = "Host ${count.index}"\n'
                    '  external_host   = "https://host-${count.index}.example.com"\n'
                    '  allowed_groups  = ["authentik Admins"]\n'
                    '}\n')
        env = dict(os.environ, TF_CLI_CONFIG_FILE=os.path.join(work, "cli.tfrc"),
                   TF_IN_AUTOMATION="1", CHECKPOINT_DISABLE="1",
                   AUTHENTIK_URL=f"http://127.0.0.1:{proxy.port}",
                   AUTHENTIK_TOKEN="emulator-admin-token")

        def tf(*args):
            p = subprocess.run(["terraform", *args, "-no-color", "-input=false"], cwd=work,
                               env=env, capture_output=True, text=True)
            if log is not None:
                log.append(f"=== {time.time():.3f} terraform {' '.join(args)}: exit {p.returncode}\n"
                           + p.stdout + p.stderr)
            return p

        applies, failed_applies, errors = 0, 0, []
        for _ in range(a.applies):
            applies += 1
            p = tf("apply", "-auto-approve", "-parallelism=10")
            if p.returncode == 0:
                break
            failed_applies += 1
            lines = (p.stdout + p.stderr).splitlines()
            errors.append([" ".join(x.strip(" │") for x in lines[i:i + 9] if x.strip(" │")
                                    and not x.strip(" │").startswith(("with ", "on ", "9:")))
                           for i, ln in enumerate(lines) if ln.startswith("Error")][:4])
        proxy.enabled = False
        p = tf("plan", "-detailed-exitcode")
        converged = p.returncode == 0
        if not converged:
            print(p.stdout[-2000:] + p.stderr[-2000:], file=sys.stderr)
        dump = json.load(urllib.request.urlopen(url + "/_emulator/dump", timeout=10))
        wrong = []
        apps = [x.get("slug") for x in dump.get("core/applications", [])]
        provs = [x.get("name") for x in dump.get("providers/proxy", [])]
        want = {f"host-{i}" for i in range(a.hosts)}
        if sorted(apps) != sorted(want):
            extra = len(apps) - len(set(apps))
            wrong.append(f"applications: {len(apps)} for {a.hosts} hosts ({extra} duplicates)")
        if len(provs) != a.hosts or len(set(provs)) != a.hosts:
            wrong.append(f"proxy providers: {len(provs)} ({len(set(provs))} distinct) for {a.hosts}")
        outposts = dump.get("outposts/instances", [])
        attached = outposts[0].get("providers", []) if outposts else []
        if len(attached) != a.hosts or len(set(attached)) != a.hosts:
            wrong.append(f"outpost providers: {len(attached)} ({len(set(attached))} distinct)")
        if log is not None:
            log.append("=== emulator dump\n" + json.dumps(
                {k: dump.get(k) for k in ("outposts/instances",)}))
            with open(a.log, "w") as f:
                f.write("\n".join(log) + "\n")
        for w in wrong:
            print("wrong: " + w, file=sys.stderr)
        for e in errors:
            print("apply failed: " + " / ".join(e), file=sys.stderr)
        ok = converged and not wrong
        faults = ", ".join(f"{k} {v}" for k, v in proxy.injected.items())
        print(f"REL|5 provider faults: {a.hosts}-host Authentik apply, 1 fault every {a.every}"
              f" requests|faults injected / wrong objects / non-converged plans"
              f"|{proxy.total()} / {len(wrong)} / {0 if converged else 1}"
              f"|{proxy.requests} requests ({faults}); applies {applies}, failed {failed_applies}"
              f"|{'ok' if ok else 'FAIL'}")
        sys.exit(0 if ok else 1)
    finally:
        proxy.close()
        emu.terminate()
        emu.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

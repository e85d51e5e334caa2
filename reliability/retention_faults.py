#!/usr/bin/env python3
"""Campaign 5b (Forgejo): a retention run of the `forgejo-retention`
provider through real terraform over a package of N versions, against the
Forgejo emulator fronting a REAL registry (Debian's `docker-registry`),
behind `fault_proxy.py`, which injects one fault every K requests (5xx,
connection resets before and after the server acted, timeouts beyond the
provider's `timeout_seconds`) on both the package API and `/v2`.

The package is seeded by the emulator itself (`forgejo-emulator --bulk`):
its distinct images (buildkit indexes with an attestation, Docker manifest
lists sharing a child, indexes holding a nested index) are pushed into the
registry for real; the many extra tags on them are recorded as Forgejo
records a re-tag. The provider reads every manifest through `/v2` as in
production. The emulator writes what it seeded; this script computes from
it, independently of the provider, what the policy must keep: `latest`
(stale, on the oldest image), the cache tag, the newest `keep_last` tags,
every tag of the same image as a kept tag, and every manifest below a kept
tag (children of live indexes).

The retention apply (`dry_run = false`) runs under faults until it
succeeds, up to `--applies` times (as a human or `tg ci` would re-run it).
After every apply, faulted or not, nothing kept may be missing: every kept
tag and every manifest below one is still a package version, and the
registry itself still serves each of those manifests (checked directly,
not through the emulator or the proxy). Then, faults off: apply again, a
refresh-only apply, and `terraform plan -detailed-exitcode` must be empty,
with exactly the kept versions left (the job finished).

Figures: faults injected / wrong deletions / non-converged plans. Prints a
REL| row for reliability/run.sh; exits 1 on a wrong deletion or no
convergence.
Usage: retention_faults.py BIN_DIR [--versions N] [--images M] [--every K]
       [--applies A] [--cap SECONDS] [--retries R] [--faults all|deletions]
       [--quick]
BIN_DIR holds `forgejo-emulator` and `terraform-provider-forgejo-retention`.
"""

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fault_proxy import FaultProxy  # noqa: E402
from ports import free_port  # noqa: E402

OWNER, PACKAGE, TOKEN = "homelab", "app", "retention-campaign-token"
KEEP_LAST = 100
ACCEPT = ", ".join([
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
])


class DeletionFaults(FaultProxy):
    """Faults on version deletions only (`--faults deletions`): with
    `--retries 0` each reset or timeout stops a run half-way, which is
    the path where a run must stop with a clear error having deleted
    nothing wrong, and the next run must finish the job."""

    def next_fault(self, path):
        if not path.startswith(f"/api/v1/packages/{OWNER}/container/{PACKAGE}/") or "/-/" in path:
            return None
        return super().next_fault(path)


def wait_port(port, proc, what, log, seconds=20):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"{what} exited ({proc.returncode}): {open(log).read()[-2000:]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    sys.exit(f"{what} did not listen on {port}: {open(log).read()[-2000:]}")


def expected(seed):
    """What the policy must keep, from the seed alone: (kept tags, live
    digests). Mirrors the provider's documented policy, not its code:
    always `latest`, tags matching (?i)cache, the newest KEEP_LAST other
    tags (ties by name), then every tag whose image a kept tag reaches."""
    tags = {t: (d, c) for t, (d, c) in seed["tags"].items()}
    children = seed["children"]

    def closure(roots):
        seen, stack = set(), list(roots)
        while stack:
            d = stack.pop()
            if d not in seen:
                seen.add(d)
                stack.extend(children.get(d, []))
        return seen

    kept, counted = set(), 0
    for tag, (_, _) in sorted(tags.items(), key=lambda kv: (-kv[1][1], kv[0])):
        if tag == "latest" or re.search("(?i)cache", tag):
            kept.add(tag)
        elif counted < KEEP_LAST:
            counted += 1
            kept.add(tag)
    live = closure(tags[t][0] for t in kept)
    kept |= {t for t, (d, _) in tags.items() if d in live}
    return kept, live


def listed(api):
    """Every version of OWNER/PACKAGE, read from the emulator directly."""
    out, page = [], 1
    while True:
        req = urllib.request.Request(
            f"{api}/api/v1/packages/{OWNER}?type=container&q={PACKAGE}&limit=50&page={page}",
            headers={"Authorization": f"token {TOKEN}"})
        items = json.load(urllib.request.urlopen(req, timeout=30))
        out += [i["version"] for i in items if i["name"] == PACKAGE]
        if len(items) < 50:
            return set(out)
        page += 1


def registry_get(registry, what, digest, method="GET"):
    """The registry's own answer (not the emulator's): the body, or None on 404."""
    req = urllib.request.Request(f"{registry}/v2/{OWNER}/{PACKAGE}/{what}/{digest}",
                                 headers={"Accept": ACCEPT}, method=method)
    try:
        return urllib.request.urlopen(req, timeout=30).read()
    except urllib.error.HTTPError as e:
        if e.code == 404:
            return None
        raise


def wrong_now(api, registry, kept, live, untagged):
    """Kept things that are gone: tags, untagged children, and in the
    registry itself the live manifests and the config and layer blobs
    their image manifests name."""
    have = listed(api)
    wrong = [f"kept tag {t} deleted" for t in sorted(kept - have)]
    wrong += [f"child {d} of a live index is no longer a version"
              for d in sorted((live & untagged) - have)]
    for d in sorted(live):
        body = registry_get(registry, "manifests", d)
        if body is None:
            wrong.append(f"the registry no longer serves live manifest {d}")
            continue
        m = json.loads(body)
        for blob in [m.get("config", {})] + m.get("layers", []):
            if blob.get("digest") and registry_get(registry, "blobs", blob["digest"],
                                                   "HEAD") is None:
                wrong.append(f"blob {blob['digest']} of live manifest {d} is gone")
    return wrong, have


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("bin_dir")
    ap.add_argument("--versions", type=int, default=10_000)
    ap.add_argument("--images", type=int, default=250)
    ap.add_argument("--every", type=int, default=100)
    ap.add_argument("--applies", type=int, default=5)
    ap.add_argument("--cap", type=float, default=600)
    ap.add_argument("--retries", type=int, default=3, help="the provider's `retries`")
    ap.add_argument("--faults", choices=["all", "deletions"], default="all",
                    help="fault every request, or only version deletions")
    ap.add_argument("--quick", action="store_true",
                    help="400 versions over 10 images, 1 fault every 40 requests, 30 s cap")
    a = ap.parse_args()
    if a.quick:
        a.versions, a.images, a.every, a.cap = 400, 10, 40, 30
    started = time.monotonic()
    work = tempfile.mkdtemp(prefix="rel-retention-")
    procs, proxy = [], None
    try:
        rport = free_port()
        with open(os.path.join(work, "registry.yml"), "w") as f:
            f.write(f"version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n"
                    f"    rootdirectory: {work}/registry\n  delete:\n    enabled: true\n"
                    f"http:\n  addr: 127.0.0.1:{rport}\n")
        rlog = os.path.join(work, "registry.log")
        reg = subprocess.Popen([shutil.which("docker-registry") or "docker-registry", "serve",
                                os.path.join(work, "registry.yml")],
                               stdout=open(rlog, "w"), stderr=subprocess.STDOUT)
        procs.append(reg)
        wait_port(rport, reg, "docker-registry", rlog)
        registry = f"http://127.0.0.1:{rport}"

        eport = free_port()
        elog = os.path.join(work, "emulator.log")
        seed_file = os.path.join(work, "seed.json")
        emu = subprocess.Popen(
            [os.path.join(a.bin_dir, "forgejo-emulator"), f"127.0.0.1:{eport}", TOKEN, OWNER,
             "--registry", f"127.0.0.1:{rport}", "--bulk", str(a.versions),
             "--images", str(a.images), "--describe", seed_file],
            stdout=open(elog, "w"), stderr=subprocess.STDOUT)
        procs.append(emu)
        # It listens once seeded.
        wait_port(eport, emu, "forgejo-emulator", elog, seconds=max(60, a.cap / 2))
        seeded_in = time.monotonic() - started
        api = f"http://127.0.0.1:{eport}"
        seed = json.load(open(seed_file))
        kept, live = expected(seed)
        # Every manifest an index names is an untagged version (Forgejo's layout).
        untagged = {d for kids in seed["children"].values() for d in kids}
        before = listed(api)
        if len(before) != seed["versions"] or not untagged <= before:
            sys.exit(f"seeded {seed['versions']} versions, the API lists {len(before)}")

        proxy = (DeletionFaults if a.faults == "deletions" else FaultProxy)(eport, a.every, hang=2.0)
        with open(os.path.join(work, "cli.tfrc"), "w") as f:
            f.write('provider_installation {\n  dev_overrides {\n'
                    f'    "registry.terraform.io/homelab/forgejo-retention" = "{a.bin_dir}"\n'
                    '  }\n  direct {}\n}\ndisable_checkpoint = true\n')
        with open(os.path.join(work, "main.tf"), "w") as f:
            f.write(f'''terraform {{
  required_providers {{
    retention = {{ source = "registry.terraform.io/homelab/forgejo-retention" }}
  }}
}}
variable "token" {{
  type      = string
  sensitive = true
}}
provider "retention" {{
  url                = "http://127.0.0.1:{proxy.port}"
  token              = var.token
  timeout_seconds    = 1
  retries            = {a.retries}
  deletes_per_second = 1000
}}
resource "retention_policy" "app" {{
  owner         = "{OWNER}"
  package       = "{PACKAGE}"
  keep_last     = {KEEP_LAST}
  max_deletions = 1000000
  dry_run       = false
}}
''')
        env = dict(os.environ, TF_CLI_CONFIG_FILE=os.path.join(work, "cli.tfrc"),
                   TF_IN_AUTOMATION="1", CHECKPOINT_DISABLE="1", TF_VAR_token=TOKEN)
        env.pop("TF_LOG", None)

        def tf(*args):
            left = max(60.0, a.cap - (time.monotonic() - started))
            try:
                return subprocess.run(["terraform", *args, "-no-color", "-input=false"],
                                      cwd=work, env=env, capture_output=True, text=True,
                                      timeout=left)
            except subprocess.TimeoutExpired as e:
                return subprocess.CompletedProcess(e.cmd, 124, e.stdout or "",
                                                   f"Error: timed out after {left:.0f} s")

        applies, failed, errors, wrong, capped = 0, 0, [], [], False
        while applies < a.applies:
            if applies and time.monotonic() - started > a.cap * 0.6:
                capped = True
                break
            applies += 1
            p = tf("apply", "-auto-approve")
            bad, _ = wrong_now(api, registry, kept, live, untagged)
            wrong += [w for w in bad if w not in wrong]
            if p.returncode == 0:
                break
            failed += 1
            lines = [x.strip(" │") for x in (p.stdout + p.stderr).splitlines()]
            lines = [x for x in lines
                     if x and not x.startswith(("with ", "on ")) and not re.match(r"\d+:", x)]
            errors.append(" / ".join(" ".join(lines[i:i + 3])
                                     for i, x in enumerate(lines) if x.startswith("Error"))[:400])
        proxy.enabled = False
        p = tf("apply", "-auto-approve")
        if p.returncode != 0:
            print("fault-free apply failed: " + (p.stdout + p.stderr)[-2000:], file=sys.stderr)
        tf("apply", "-refresh-only", "-auto-approve")
        plan = tf("plan", "-detailed-exitcode")
        bad, have = wrong_now(api, registry, kept, live, untagged)
        wrong += [w for w in bad if w not in wrong]
        leftover = have - kept - (live & untagged)
        converged = p.returncode == 0 and plan.returncode == 0 and not leftover
        if not converged:
            print(f"not converged: fault-free apply exit {p.returncode}, plan exit "
                  f"{plan.returncode}, {len(leftover)} versions left that the policy deletes: "
                  f"{sorted(leftover)[:5]}\n{plan.stdout[-1500:]}{plan.stderr[-1500:]}",
                  file=sys.stderr)
        for w in wrong[:20]:
            print("wrong: " + w, file=sys.stderr)
        for e in errors:
            print("apply failed: " + e, file=sys.stderr)
        elapsed = time.monotonic() - started
        ok = converged and not wrong
        faults = ", ".join(f"{k} {v}" for k, v in proxy.injected.items())
        print(f"REL|5 provider faults: Forgejo retention over {seed['versions']} versions"
              f" ({a.images} images in a real registry), 1 fault every {a.every}"
              f" {'deletions' if a.faults == 'deletions' else 'requests'}, retries {a.retries}"
              f"|faults injected / wrong deletions / non-converged plans"
              f"|{proxy.total()} / {len(wrong)} / {0 if converged else 1}"
              f"|{proxy.requests} {'deletions' if a.faults == 'deletions' else 'requests'}"
              f" ({faults}); applies under faults {applies}, failed"
              f" {failed}{', time cap hit' if capped else ''}; deleted"
              f" {len(before) - len(have)}, kept {len(have)}; seeded in {seeded_in:.0f} s,"
              f" {elapsed:.0f} s in all|{'ok' if ok else 'FAIL'}")
        sys.exit(0 if ok else 1)
    finally:
        if proxy:
            proxy.close()
        for p in procs:
            p.terminate()
            p.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Campaign 4: concurrency on Tier-1 stacks (terraform's `pg` backend, a real
PostgreSQL started here with initdb).

a) First apply of N *new* stacks at once, each in its own schema of one
   database. Terraform's pg backend creates a workspace under one global
   advisory lock (id -1) and does not wait for it, so parallel first runs
   can fail with "Cannot lock workspace" (hashicorp/terraform#33217). Done
   twice: with terraform alone (the upstream behaviour, reported as seen)
   and with `tg ci apply --jobs N`, where every stack must end applied (a
   run that lost the race is lock contention, retried, never fatal).
b) Soak: rounds of N concurrent `tg apply` of one existing stack, each with
   its own value, plus a `tg plan -detailed-exitcode` (the drift check) at
   the same time. Every run must succeed or stop as a clean lock wait
   (`tg classify` says locked); the state must hold the value of the last
   successful apply (no lost update); no advisory lock may stay held after
   the round (pg_locks). `tg apply` plans to a file for the destroy brake
   and terraform refuses a saved plan whose state another apply changed
   meanwhile ("Saved plan is stale", nothing applied); tg then plans again
   (tg-wrapper/src/plan_check.rs, up to 8 rounds). A run refused even so is
   counted apart and fails the campaign.

Prints REL| rows for reliability/run.sh.
Usage: pg_soak.py TG [--rounds R] [--ns 2,4,8] [--new 8] [--cap SECONDS]
"""

import argparse
import concurrent.futures as cf
import json
import re
import os
import shutil
import subprocess
import sys
import tempfile
import time

from ports import free_port


class Pg:
    """A throwaway PostgreSQL (trust auth on 127.0.0.1)."""

    def __init__(self, work):
        self.dir = os.path.join(work, "pg")
        os.makedirs(self.dir)
        as_pg = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if as_pg:
            subprocess.run(["chown", "-R", "postgres", self.dir], check=True)
        data = os.path.join(self.dir, "data")
        subprocess.run(as_pg + ["initdb", "-D", data, "-U", "postgres", "--auth=trust",
                                "-E", "UTF8", "--locale=C", "--no-sync"],
                       check=True, capture_output=True)
        self.port = free_port()
        self.proc = subprocess.Popen(
            as_pg + ["postgres", "-D", data, "-k", self.dir, "-p", str(self.port),
                     "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off",
                     "-c", "max_connections=200"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(200):
            if self.psql("postgres", "select 1", check=False).returncode == 0:
                break
            time.sleep(0.1)
        self.psql("postgres", "CREATE DATABASE state")

    def url(self, db="state"):
        return f"postgres://postgres@127.0.0.1:{self.port}/{db}?sslmode=disable"

    def psql(self, db, sql, check=True):
        return subprocess.run(["psql", "-XAtq", self.url(db), "-c", sql],
                              capture_output=True, text=True, check=check)

    def advisory_locks(self):
        out = self.psql("state", "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'")
        return int(out.stdout.strip() or 0)

    def stop(self):
        self.proc.terminate()
        self.proc.wait()


def write_stack(root, name):
    d = os.path.join(root, "stacks", name)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "main.tf"), "w") as f:
        f.write('terraform {\n  backend "pg" {\n    schema_name = "%s"\n  }\n}\n'
                'variable "v" {\n  type    = string\n  default = "0"\n}\n'
                'resource "terraform_data" "x" {\n  input = var.v\n}\n'
                'output "v" {\n  value = terraform_data.x.output\n}\n' % name)
    return d


def new_repo(work, name):
    root = os.path.join(work, name)
    os.makedirs(os.path.join(root, "stacks"))
    with open(os.path.join(root, "terragrunt.hcl"), "w") as f:
        f.write("locals {\n  tier0_stacks = []\n}\n")
    with open(os.path.join(root, ".gitignore"), "w") as f:
        f.write(".terraform/\n.terraform.lock.hcl\n")
    return root


def first_applies_terraform(pg, work, n):
    """Upstream: n new stacks, terraform init + apply at once."""
    root = new_repo(work, "upstream")
    env = dict(os.environ, PG_CONN_STR=pg.url(), TF_IN_AUTOMATION="1")
    dirs = [write_stack(root, f"up{i}") for i in range(n)]

    def run(d):
        out = []
        for args in (["init", "-input=false"], ["apply", "-auto-approve", "-input=false"]):
            p = subprocess.run(["terraform", *args], cwd=d, env=env, capture_output=True, text=True)
            out.append(p.stdout + p.stderr)
            if p.returncode != 0:
                return False, f"[terraform {args[0]}]\n" + "\n".join(out)
        return True, ""

    with cf.ThreadPoolExecutor(n) as ex:
        results = list(ex.map(run, dirs))
    failed = [o for ok, o in results if not ok]
    seen = sorted({re.sub(r"\x1b\[[0-9;]*m|[│╷╵]", "", ln).strip() for o in failed
                   for ln in o.splitlines()
                   if "Error message:" in ln or "Cannot lock" in ln or ln.startswith("[terraform")})
    return len(failed), seen


def first_applies_tg(tg, pg, work, n):
    """n new stacks, `tg ci apply --jobs n` (each stack's init + apply)."""
    root = new_repo(work, "tgfirst")
    for i in range(n):
        write_stack(root, f"new{i}")
    subprocess.run(["git", "init", "-q", "-b", "main", root], check=True)
    subprocess.run(["git", "-C", root, "add", "-A"], check=True)
    subprocess.run(["git", "-C", root, "-c", "user.email=r@x", "-c", "user.name=r",
                    "commit", "-qm", "stacks"], check=True)
    env = dict(os.environ, PG_CONN_STR=pg.url(), TG_ENGINE="terraform", TF_IN_AUTOMATION="1")
    p = subprocess.run([tg, "ci", "apply", "--all", "--jobs", str(n)], cwd=root, env=env,
                       capture_output=True, text=True, timeout=600)
    applied = 0
    for i in range(n):
        out = pg.psql("state", f"SELECT count(*) FROM new{i}.states WHERE data LIKE '%terraform_data%'",
                      check=False)
        applied += out.returncode == 0 and out.stdout.strip() == "1"
    out = p.stdout + p.stderr
    summary = [ln for ln in out.splitlines() if ln.startswith("OK ")]
    return p.returncode, applied, summary[-1] if summary else out[-3000:]


def first_applies_plain_tg(tg, pg, work, n):
    """n new stacks, each `tg init` then `tg apply`, all n at once: how each
    run that lost the workspace-creation race ends, as `tg classify` says."""
    root = new_repo(work, "tgplain")
    env = dict(os.environ, PG_CONN_STR=pg.url(), TG_ENGINE="terraform", TF_IN_AUTOMATION="1")
    dirs = [write_stack(root, f"plain{i}") for i in range(n)]

    def run(d):
        p = subprocess.run([tg, "init", "-input=false"], cwd=d, env=env,
                           capture_output=True, text=True)
        if p.returncode != 0:
            return p
        return subprocess.run([tg, "apply", "--non-interactive"], cwd=d, env=env,
                              capture_output=True, text=True)

    with cf.ThreadPoolExecutor(n) as ex:
        res = list(ex.map(run, dirs))
    classes = {}
    for p in res:
        if p.returncode == 0:
            continue
        cls = subprocess.run([tg, "classify"], input=p.stdout + p.stderr, capture_output=True,
                             text=True).stdout.split()[0]
        classes[cls] = classes.get(cls, 0) + 1
        if cls not in ("locked", "transient"):
            print("--- plain tg run classified " + cls + ":\n" + (p.stdout + p.stderr)[-1500:],
                  file=sys.stderr)
    return classes


def soak(tg, pg, work, ns, rounds, cap):
    root = new_repo(work, "soak")
    d = write_stack(root, "soak")
    env = dict(os.environ, PG_CONN_STR=pg.url(), TG_ENGINE="terraform", TF_IN_AUTOMATION="1",
               TG_LOCK_TIMEOUT="2m")
    subprocess.run([tg, "init", "-input=false"], cwd=d, env=env, check=True, capture_output=True)
    subprocess.run([tg, "apply", "--non-interactive", "-var=v=seed"], cwd=d, env=env, check=True,
                   capture_output=True)
    started = time.monotonic()
    stats = {"applies": 0, "ok": 0, "lock_waits": 0, "transient": 0, "failed": [], "lost": 0,
             "leaked": 0,
             "plans": 0, "plan_failed": [], "rounds": 0}
    value = 0
    for r in range(rounds):
        for n in ns:
            if time.monotonic() - started > cap:
                return stats, True
            jobs = []
            for _ in range(n):
                value += 1
                jobs.append(["apply", "--non-interactive", f"-var=v={value}"])
            jobs.append(["plan", "-detailed-exitcode", "-input=false"])

            def run(args):
                t0 = time.monotonic()
                p = subprocess.run([tg, *args], cwd=d, env=env, capture_output=True, text=True)
                return args, p, t0, time.monotonic()

            with cf.ThreadPoolExecutor(len(jobs)) as ex:
                res = list(ex.map(run, jobs))
            stats["rounds"] += 1
            last_ok = None
            for args, p, _t0, t1 in res:
                out = p.stdout + p.stderr
                if args[0] == "plan":
                    stats["plans"] += 1
                    if p.returncode not in (0, 2):
                        cls = subprocess.run([tg, "classify"], input=out, capture_output=True,
                                             text=True).stdout.strip()
                        if not cls.startswith("locked"):
                            stats["plan_failed"].append(out[-600:])
                    continue
                stats["applies"] += 1
                if p.returncode == 0:
                    stats["ok"] += 1
                    if last_ok is None or t1 > last_ok[0]:
                        last_ok = (t1, args[2].split("=", 2)[2])
                else:
                    cls = subprocess.run([tg, "classify"], input=out, capture_output=True,
                                         text=True).stdout.strip()
                    if cls.startswith("locked"):
                        stats["lock_waits"] += 1
                    elif cls.startswith("transient"):
                        # The saved plan went stale in every round tg
                        # planned again: nothing applied.
                        stats["transient"] += 1
                    else:
                        stats["failed"].append(out[-600:])
            # The state holds the value of an apply that succeeded (the last
            # one to finish writing): read it back through terraform.
            p = subprocess.run([tg, "output", "-json"], cwd=d, env=env, capture_output=True,
                               text=True)
            try:
                got = json.loads(p.stdout)["v"]["value"]
            except (ValueError, KeyError):
                got = None
            oks = {a[2].split("=", 2)[2] for a, pr, _, _ in res if a[0] == "apply" and pr.returncode == 0}
            if oks and got not in oks:
                stats["lost"] += 1
            stats["leaked"] += pg.advisory_locks() > 0
    return stats, False


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("tg")
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--ns", default="2,4,8")
    ap.add_argument("--new", type=int, default=8)
    ap.add_argument("--cap", type=float, default=300)
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="rel-pg-")
    os.chmod(work, 0o755)  # postgres runs as its own user
    tg = os.path.join(work, "tg")
    shutil.copy2(a.tg, tg)
    pg = Pg(work)
    bad = False
    try:
        failed, seen = first_applies_terraform(pg, work, a.new)
        print(f"terraform alone, {a.new} first applies at once: {failed} failed; lock lines: {seen}",
              file=sys.stderr)
        print(f"REL|4 first apply of {a.new} new Tier-1 stacks, terraform alone (upstream #33217)"
              f"|runs failed|{failed} / {a.new}|{'; '.join(seen)[:200] or 'no lock error seen'}|info")
        rc, applied, tail = first_applies_tg(tg, pg, work, a.new)
        ok = rc == 0 and applied == a.new
        bad |= not ok
        print(tail, file=sys.stderr)
        print(f"REL|4 first apply of {a.new} new Tier-1 stacks, tg ci apply --jobs {a.new}"
              f"|stacks applied / fatal|{applied} / {0 if ok else a.new - applied}|exit {rc}; "
              f"{tail[:120] if ok else 'see stderr'}"
              f"|{'ok' if ok else 'FAIL'}")
        classes = first_applies_plain_tg(tg, pg, work, a.new)
        fatal = sum(v for k, v in classes.items() if k not in ("locked", "transient"))
        bad |= fatal > 0
        print(f"REL|4 first apply of {a.new} new Tier-1 stacks, {a.new} plain tg apply at once"
              f"|failed runs / classified fatal|{sum(classes.values())} / {fatal}"
              f"|classes: {classes or 'none failed'}|{'FAIL' if fatal else 'ok'}")
        ns = [int(x) for x in a.ns.split(",")]
        st, capped = soak(tg, pg, work, ns, a.rounds, a.cap)
        for f in st["failed"][:3] + st["plan_failed"][:3]:
            print("--- failed run:\n" + f, file=sys.stderr)
        ok = not (st["failed"] or st["lost"] or st["leaked"] or st["plan_failed"]
                  or st["transient"])
        bad |= not ok
        print(f"REL|4 soak: N={a.ns} concurrent tg apply of one stack + drift plan, "
              f"{st['rounds']} rounds{', time cap hit' if capped else ''}"
              f"|applies / lost updates / leaked locks|{st['applies']} / {st['lost']} / {st['leaked']}"
              f"|succeeded {st['ok']}, clean lock waits {st['lock_waits']}, refused with its plan stale"
              f" in every round {st['transient']}, other failures "
              f"{len(st['failed'])}; plans {st['plans']}, failed {len(st['plan_failed'])}"
              f"|{'ok' if ok else 'FAIL'}")
    finally:
        pg.stop()
        shutil.rmtree(work, ignore_errors=True)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()

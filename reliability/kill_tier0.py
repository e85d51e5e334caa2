#!/usr/bin/env python3
"""Campaign 1: kill `tg apply` of a Tier-0 stack at every step of its run.

Set-up (all real): an OpenBao dev server (the Vault lock), an age key (SOPS),
a bare git repo as the forge and a clone of it holding one Tier-0 stack
(`terraform_data`, `input = var.v`, applied with a new `-var v=N` each time, so
every apply changes the state in place: no code change, no replacement).

Each trial runs `tg apply` with `TG_PHASE_MARKERS=1` and kills it at one step
(`tg-wrapper/src/phase.rs` names them), alternating two ways to aim:
- exact: `TG_PAUSE_AT=<step>` holds tg at the step, the signal lands there
  after 0-20 ms of jitter;
- jitter: no pause, the signal is sent 0-50 ms after the step's marker
  (0-1.5 s for `engine`, the engine's run), so it lands inside the step or
  in the following ones.
SIGKILL goes to tg's whole process group (a container or pod killed: the
engine dies too); SIGTERM to tg alone (`kill <pid>`, a CI runner), which tg
forwards to the engine while it runs.

After each kill it checks:
- the state committed in the clone (HEAD), on the forge, and in the working
  tree each decrypt (with the `sops` binary, not our own code) and are
  either the state before the run or a newer state of the same lineage
  holding the resource (the run's own): anything else is a LOST state;
- plaintext: no file under the clone (working tree and every git object),
  `$TMPDIR`, `TG_TMPDIR` or `/dev/shm` holds a decrypted state (`"lineage"`)
  or the age secret key; counted right after the kill and again after the
  next run (SIGKILLed runs cannot clean up: their folder is swept by the next
  tg run);
- the next `tg apply` (no pause) succeeds once the killed holder's Vault
  lease (`TG_LOCK_LEASE=1s`) ran out, and leaves the forge holding the
  clone's state.

Prints `REL|…` rows for reliability/run.sh (one per signal) and one line per
trial on stderr; exits 1 when a state was lost, plaintext was left after the
next run, or the next apply failed.
Usage: kill_tier0.py TG [--per N] [--cap SECONDS] [--steps a,b] [--signals KILL,TERM]
"""

import argparse
import concurrent.futures as cf
import copy
import hashlib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

from ports import free_port

STEPS = [
    "locked", "synced", "decrypt", "decrypted", "engine", "engine-exited",
    "encrypt", "rename", "renamed", "commit", "committed", "push", "pushed",
    "unlock",
]
STATE = "state/stacks/infra/terraform.tfstate"


STUB = r"""#!/usr/bin/env python3
# Stand-in engine (--engine stub): what terraform does with the state, fast.
# `plan -out=F` writes F, `show -json F` shows an in-place update (the
# destroy brake's questions); apply reads -state=, waits 0.3 s (the engine
# step has a duration to land in), writes the state with the new -var v.
import json, os, sys, time, uuid
args = sys.argv[1:]
out = [a[len("-out="):] for a in args if a.startswith("-out=")]
if args[:1] == ["plan"] and out:
    open(out[0], "w").write(json.dumps([a for a in args if a.startswith("-var=")]))
    sys.exit(0)
if args[:1] == ["show"]:
    print('{"format_version":"1.2","resource_changes":[{"address":"terraform_data.x",'
          '"change":{"actions":["update"]}}]}')
    sys.exit(0)
if args[:1] != ["apply"]:
    sys.exit(0)
st = next(a[len("-state="):] for a in args if a.startswith("-state="))
plan = [a for a in args[1:] if not a.startswith("-")]
var = [a for a in args if a.startswith("-var=")]
if plan:
    var = json.load(open(plan[-1]))
v = var[-1].split("=", 2)[2] if var else "0"
state = {"version": 4, "terraform_version": "stub", "serial": 0,
         "lineage": str(uuid.uuid4()), "outputs": {}, "resources": []}
if os.path.exists(st) and os.path.getsize(st) > 0:
    state = json.load(open(st))
time.sleep(0.3)
state["serial"] += 1
state["resources"] = [{"mode": "managed", "type": "terraform_data", "name": "x",
                       "instances": [{"attributes": {"input": v}}]}]
with open(st + ".tmp", "w") as f:
    json.dump(state, f)
os.replace(st + ".tmp", st)
"""


class Campaign:
    def __init__(self, tg, work, engine):
        self.tg = tg
        self.work = work
        self.repo = os.path.join(work, "clone")
        self.forge = os.path.join(work, "forge.git")
        self.v = 0
        self.decrypted = {}
        self.tmp = os.path.join(work, "tmp")
        self.tgtmp = os.path.join(work, "tgtmp")
        os.makedirs(self.tmp)
        os.makedirs(self.tgtmp)
        port = free_port()
        self.bao = subprocess.Popen(
            ["bao", "server", "-dev", "-dev-no-store-token",
             "-dev-root-token-id=rel-root", f"-dev-listen-address=127.0.0.1:{port}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            env=dict(os.environ, HOME=work))
        key = os.path.join(work, "age.txt")
        out = subprocess.run(["age-keygen", "-o", key], check=True,
                             capture_output=True, text=True)
        pub = out.stderr.strip().split("Public key: ")[-1]
        with open(key) as f:
            self.secret = [ln for ln in f.read().split() if ln.startswith("AGE-SECRET-KEY-")][0]
        self.env = dict(
            os.environ, VAULT_ADDR=f"http://127.0.0.1:{port}", VAULT_TOKEN="rel-root",
            SOPS_AGE_KEY_FILE=key, TG_ENGINE="terraform", TF_IN_AUTOMATION="1",
            CHECKPOINT_DISABLE="1", TF_CLI_CONFIG_FILE="/dev/null",
            TG_TMPDIR=self.tgtmp, TMPDIR=self.tmp, TG_LOCK_LEASE="1s",
            HOME=work,
            TG_LOCK_TIMEOUT="60s", TG_PHASE_MARKERS="1")
        if engine == "stub":
            stub = os.path.join(work, "stub-engine")
            with open(stub, "w") as f:
                f.write(STUB)
            os.chmod(stub, 0o755)
            self.env["TG_ENGINE"] = stub
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        seed = os.path.join(work, "seed")
        os.makedirs(os.path.join(seed, "stacks", "infra"))
        files = {
            "terragrunt.hcl": 'locals { tier0_stacks = ["infra"] }\n',
            "stacks/infra/main.tf": ('variable "v" {\n  type    = string\n  default = "0"\n}\n'
                                     'resource "terraform_data" "x" {\n  input = var.v\n}\n'),
            ".sops.yaml": f"creation_rules:\n  - path_regex: ^state/.*\n    age: {pub}\n",
            ".gitignore": ".terraform/\n.terraform.lock.hcl\n",
        }
        for name, text in files.items():
            with open(os.path.join(seed, name), "w") as f:
                f.write(text)
        git = ["git", "-c", "user.email=rel@x", "-c", "user.name=rel"]
        subprocess.run(["git", "init", "-q", "-b", "main", seed], check=True)
        subprocess.run(git + ["add", "-A"], cwd=seed, check=True)
        subprocess.run(git + ["commit", "-qm", "seed"], cwd=seed, check=True)
        subprocess.run(["git", "clone", "-q", "--bare", seed, self.forge], check=True)
        # The forge answers over git:// from its own process (git daemon),
        # as a real forge does: a killed tg's push must not kill the
        # receiving side with it (a local-path push runs git-receive-pack
        # in tg's process group, and killing it leaves the forge's ref lock,
        # which no real forge would).
        dport = free_port()
        self.daemon = subprocess.Popen(
            ["git", "daemon", "--reuseaddr", f"--base-path={work}", "--export-all",
             "--enable=receive-pack", "--listen=127.0.0.1", f"--port={dport}", work],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", dport), 0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        subprocess.run(["git", "clone", "-q", f"git://127.0.0.1:{dport}/forge.git", self.repo],
                       check=True)
        for k, v in (("user.email", "rel@x"), ("user.name", "rel")):
            subprocess.run(["git", "config", k, v], cwd=self.repo, check=True)
        self.tg_run(["init", "-input=false"], check=True)
        self.tg_run(["apply", "--non-interactive"], check=True)
        # What marks a decrypted state of this campaign (and no other run's).
        self.lineage = self.decrypt(self.blob("head"))["lineage"].encode()

    def next_v(self):
        self.v += 1
        return self.v

    def close(self):
        for p in (self.bao, self.daemon):
            p.terminate()
            p.wait()

    def tg_run(self, args, check=False, timeout=180):
        verb, rest = args[0], args[1:]
        p = subprocess.run([self.tg, verb, "--stack", "infra", *rest], cwd=self.repo,
                           env=self.env, capture_output=True, text=True, timeout=timeout)
        if check and p.returncode != 0:
            raise SystemExit(f"tg {' '.join(args)} failed:\n{p.stderr}")
        return p

    def decrypt(self, blob):
        """The state in `blob` (encrypted file bytes) as parsed JSON, or None.

        The clone's HEAD, the forge and the working tree mostly hold the same
        bytes, so each distinct file is decrypted by `sops` once."""
        if blob is None:
            return None
        key = hashlib.sha256(blob).digest()
        if key not in self.decrypted:
            self.decrypted[key] = self.sops_decrypt(blob)
        return copy.deepcopy(self.decrypted[key])

    def sops_decrypt(self, blob):
        with tempfile.NamedTemporaryFile(dir=self.work, suffix=".enc") as f:
            f.write(blob)
            f.flush()
            p = subprocess.run(["sops", "decrypt", "--input-type", "binary",
                                "--output-type", "binary", f.name],
                               env=self.env, capture_output=True)
        if p.returncode != 0:
            return "undecryptable: " + p.stderr.decode(errors="replace").strip()[:200]
        try:
            return json.loads(p.stdout)
        except ValueError:
            return "not a state (JSON)"

    def blob(self, where):
        if where == "worktree":
            path = os.path.join(self.repo, STATE)
            if not os.path.exists(path):
                return None
            with open(path, "rb") as f:
                return f.read()
        rev = "HEAD" if where == "head" else "main"
        gitdir = self.repo if where == "head" else self.forge
        p = subprocess.run(["git", "show", f"{rev}:{STATE}"], cwd=gitdir, capture_output=True)
        return p.stdout if p.returncode == 0 else None

    def states(self):
        return {w: self.decrypt(self.blob(w)) for w in ("head", "forge", "worktree")}

    def plaintext(self):
        """Files holding a decrypted state or the age secret key."""
        found = []
        needles = (self.lineage, self.secret.encode())
        roots = [self.repo, self.tmp, self.tgtmp, "/dev/shm"]
        for root in roots:
            for dirpath, _dirs, names in os.walk(root):
                if os.path.join(self.repo, ".terraform") in dirpath:
                    continue
                for n in names:
                    p = os.path.join(dirpath, n)
                    try:
                        with open(p, "rb") as f:
                            data = f.read()
                    except OSError:
                        continue
                    if any(x in data for x in needles):
                        found.append(p)
        # Every git object, decompressed (a plaintext state committed by
        # mistake would be zlib-compressed in .git).
        objs = subprocess.run(
            ["git", "cat-file", "--batch-all-objects", "--batch"],
            cwd=self.repo, capture_output=True).stdout
        if any(x in objs for x in needles):
            found.append(os.path.join(self.repo, ".git (an object)"))
        return found


def same_or_newer(state, before):
    """'before', 'after' or the reason it is neither."""
    if not isinstance(state, dict):
        return f"{state}"
    if state == before:
        return "before"
    if state.get("lineage") != before.get("lineage"):
        return "another lineage"
    if state.get("serial", 0) <= before.get("serial", 0):
        return "older or equal serial with other content"
    if not any(r.get("type") == "terraform_data" for r in state.get("resources", [])):
        return "resource missing"
    return "after"


def trial(c, step, sig, exact, rng):
    before = c.decrypt(c.blob("head"))
    env = dict(c.env)
    if exact:
        env["TG_PAUSE_AT"] = step
        env["TG_PAUSE_SECS"] = "30"
    p = subprocess.Popen(
        [c.tg, "apply", "--stack", "infra", "--non-interactive", f"-var=v={c.next_v()}"],
        cwd=c.repo, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        start_new_session=True)
    reached = False
    seen = []
    for line in p.stderr:
        seen.append(line)
        if line.decode(errors="replace").strip() == f"tg-phase: {step}":
            reached = True
            if exact:
                delay = rng.uniform(0, 0.02)
            elif step == "engine":
                delay = rng.uniform(0, 1.5)
            else:
                delay = rng.uniform(0, 0.05)
            time.sleep(delay)
            try:
                if sig == signal.SIGKILL:
                    os.killpg(p.pid, sig)
                else:
                    os.kill(p.pid, sig)
            except ProcessLookupError:
                pass
            break
    rest = b"".join(seen) + p.stderr.read()
    p.wait()
    if sig == signal.SIGKILL:
        # The whole group (engine included) is gone before we look.
        for _ in range(100):
            try:
                os.killpg(p.pid, 0)
                time.sleep(0.05)
            except ProcessLookupError:
                break
    res = {"step": step, "signal": sig.name, "exact": exact, "reached": reached,
           "exit": p.returncode, "lost": [], "plain_after_kill": [],
           "plain_after_next": [], "next_failed": None}
    if not reached:
        said = [ln for ln in rest.decode(errors="replace").splitlines() if ln.startswith(("tg: ", "error:", "fatal:", " ! ")) or "Error" in ln]
        res["next_failed"] = "step never reached: " + " / ".join(said)[-400:]
        return res
    res["plain_after_kill"] = c.plaintext()
    for where, st in c.states().items():
        verdict = same_or_newer(st, before)
        if verdict not in ("before", "after"):
            res["lost"].append(f"{where}: {verdict}")
    nxt = c.tg_run(["apply", "--non-interactive", f"-var=v={c.next_v()}"])
    if nxt.returncode != 0:
        said = [ln for ln in nxt.stderr.splitlines() if ln.startswith(("tg: ", "error:", "fatal:", " ! ")) or "Error" in ln]
        res["next_failed"] = " / ".join(said)[-400:] or f"exit {nxt.returncode}"
        # What a human would do, so the campaign goes on: look at the
        # committed state, commit a leftover newer encrypted state, push.
        repair(c)
    res["plain_after_next"] = c.plaintext()
    head, forge = c.blob("head"), c.blob("forge")
    if head != forge:
        res["lost"].append("forge and clone differ after the next apply")
    return res


def repair(c):
    subprocess.run(["git", "clean", "-fdq", "state/"], cwd=c.repo)
    subprocess.run(["git", "add", STATE], cwd=c.repo)
    subprocess.run(["git", "commit", "-qm", "state(infra): commit the state a killed run left"],
                   cwd=c.repo, capture_output=True)
    subprocess.run(["git", "push", "-q", "origin", "HEAD:refs/heads/main"], cwd=c.repo,
                   capture_output=True)
    subprocess.run(["git", "fetch", "-q", "origin"], cwd=c.repo)
    time.sleep(1.2)
    c.tg_run(["apply", "--non-interactive"])


def run_group(tg_bin, engine, steps, sigs, per, cap, seed):
    """One worker: its own OpenBao, forge and clone; `steps` x `sigs`."""
    rng = random.Random(seed)
    work = tempfile.mkdtemp(prefix="rel-kill-")
    # A copy: another build in the shared target dir may replace the binary
    # while the campaign runs.
    tg = os.path.join(work, "tg")
    shutil.copy2(tg_bin, tg)
    c = Campaign(tg, work, engine)
    results = []
    started = time.monotonic()
    capped = False
    try:
        for i in range(per):
            for sig in sigs:
                for step in steps:
                    if time.monotonic() - started > cap:
                        capped = True
                        break
                    r = trial(c, step, signal.Signals(sig), exact=(i % 2 == 0), rng=rng)
                    results.append(r)
                    bad = r["lost"] or r["plain_after_next"] or r["next_failed"]
                    print(f"{'FAIL' if bad else 'ok  '} {r['signal']:7} {step:13} "
                          f"{'exact' if r['exact'] else 'jitter'} exit={r['exit']} "
                          f"plain-after-kill={len(r['plain_after_kill'])} "
                          f"{r['lost'] or ''} {r['next_failed'] or ''} "
                          f"{r['plain_after_next'] or ''}", file=sys.stderr, flush=True)
    finally:
        c.close()
        shutil.rmtree(work, ignore_errors=True)
    return results, capped


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("tg")
    ap.add_argument("--per", type=int, default=20, help="trials per step and signal")
    ap.add_argument("--cap", type=float, default=600, help="seconds for the whole campaign")
    ap.add_argument("--seed", type=int, default=15)
    ap.add_argument("--steps", default=",".join(STEPS))
    ap.add_argument("--signals", default="KILL,TERM")
    ap.add_argument("--engine", choices=["terraform", "stub"], default="terraform")
    ap.add_argument("--workers", type=int, default=1)
    a = ap.parse_args()
    steps = [x for x in a.steps.split(",") if x]
    unknown = [x for x in steps if x not in STEPS]
    if unknown:
        raise SystemExit(f"unknown steps {unknown}; known: {STEPS}")
    sigs = [getattr(signal, "SIG" + x) for x in a.signals.split(",") if x]
    started = time.monotonic()
    groups = [steps[i::a.workers] for i in range(a.workers) if steps[i::a.workers]]
    results, capped = [], False
    with cf.ProcessPoolExecutor(len(groups)) as ex:
        futs = [ex.submit(run_group, a.tg, a.engine, g, [int(x) for x in sigs], a.per, a.cap,
                          a.seed + n) for n, g in enumerate(groups)]
        for f in futs:
            r, cp = f.result()
            results += r
            capped |= cp
    elapsed = time.monotonic() - started
    failed_any = False
    for sig in [x.name for x in sigs]:
        rs = [r for r in results if r["signal"] == sig]
        lost = sum(1 for r in rs if r["lost"])
        left = sum(1 for r in rs if r["plain_after_next"])
        lingering = sum(1 for r in rs if r["plain_after_kill"])
        failed = sum(1 for r in rs if r["next_failed"])
        per_step = min((sum(1 for r in rs if r["step"] == s) for s in steps), default=0)
        bad = lost or left or failed
        failed_any = failed_any or bad
        print(f"REL|1 kill Tier-0 apply, {sig}, engine {a.engine} ({len(steps)} steps x {per_step}"
              f"{', time cap hit' if capped else ''})|kills / states lost / plaintext left"
              f"|{len(rs)} / {lost} / {left}|next apply failed: {failed}; plaintext of a killed"
              f" run until the next run swept it: {lingering}|{'FAIL' if bad else 'ok'}")
    print(f"kill campaign: {len(results)} trials in {elapsed:.0f} s", file=sys.stderr)
    sys.exit(1 if failed_any else 0)


if __name__ == "__main__":
    main()

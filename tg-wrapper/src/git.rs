//! Every git check and git write tg makes, in one place.
//!
//! Tier-0 state lives in git, so a state commit is only safe when it
//! continues the forge's history: before a mutating Tier-0 run the
//! checkout is synced with its upstream ([`sync_before`]), after it the
//! state commit is pushed ([`push_state`]), rebased onto a forge that moved
//! meanwhile. A run that cannot do either refuses, naming the cause and the
//! command that fixes it, instead of forking the state.
//!
//! Only state commits are ever moved by tg: a commit is "state-only" when
//! every path it changes is under `state/`. Code commits are never
//! rebased, merged or pushed by tg.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::TgError;

/// Where encrypted Tier-0 state lives; commits touching only this are tg's.
const STATE_DIR: &str = "state/";

/// git in one repository.
#[derive(Debug, Clone)]
pub struct Git {
    root: PathBuf,
}

/// The forge branch this checkout follows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upstream {
    pub remote: String,
    pub branch: String,
}

impl Upstream {
    /// The remote-tracking ref tg fetches into.
    fn tracking(&self) -> String {
        format!("refs/remotes/{}/{}", self.remote, self.branch)
    }

    pub fn shown(&self) -> String {
        format!("{}/{}", self.remote, self.branch)
    }
}

/// Serialises tg's git writes within one clone (parallel `tg ci` jobs
/// commit and push from the same working tree).
#[derive(Debug)]
pub struct WriteLock {
    _file: nix::fcntl::Flock<std::fs::File>,
}

impl Git {
    pub fn new(root: &Path) -> Git {
        Git {
            root: root.to_path_buf(),
        }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("git");
        cmd.args(args)
            .current_dir(&self.root)
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("LC_ALL", "C");
        cmd
    }

    /// Runs git; stdout on success, git's own words on failure.
    fn run(&self, args: &[&str]) -> Result<String, String> {
        self.run_cmd(&mut self.command(args), args)
    }

    fn run_cmd(&self, cmd: &mut Command, args: &[&str]) -> Result<String, String> {
        let out = cmd
            .output()
            .map_err(|e| format!("cannot run git {}: {e}", args.join(" ")))?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(format!(
                "git {}: {}{}",
                args.join(" "),
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
            .trim()
            .to_string())
        }
    }

    fn step(&self, step: &str, args: &[&str]) -> Result<String, TgError> {
        self.run(args).map_err(|e| TgError::step(step, e))
    }

    fn rev(&self, rev: &str) -> Result<String, TgError> {
        Ok(self
            .step("read git history", &["rev-parse", "--verify", "-q", rev])?
            .trim()
            .to_string())
    }

    /// Takes the clone-wide write lock (blocking).
    pub fn write_lock(&self) -> Result<WriteLock, TgError> {
        let dir = self.root.join(".tg");
        let step = format!("lock {} for tg's git writes", dir.display());
        std::fs::create_dir_all(&dir).map_err(|e| TgError::step(&step, e))?;
        let _ = std::fs::write(dir.join(".gitignore"), "*\n");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join("git.lock"))
            .map_err(|e| TgError::step(&step, e))?;
        let file = nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusive)
            .map_err(|(_, e)| TgError::step(&step, e))?;
        Ok(WriteLock { _file: file })
    }

    /// The branch the checkout follows on the forge: the current branch's
    /// upstream, or in CI (detached HEAD) `origin/$CI_COMMIT_BRANCH`.
    /// `None` only for a repository without any remote.
    pub fn upstream(&self) -> Result<Option<Upstream>, TgError> {
        let remotes = self.step("list git remotes", &["remote"])?;
        if remotes.trim().is_empty() {
            return Ok(None);
        }
        let branch = self.run(&["symbolic-ref", "-q", "--short", "HEAD"]).ok();
        match branch.as_deref().map(str::trim) {
            Some(b) if !b.is_empty() => {
                let remote = self.run(&["config", &format!("branch.{b}.remote")]);
                let merge = self.run(&["config", &format!("branch.{b}.merge")]);
                match (remote, merge) {
                    (Ok(r), Ok(m)) if m.trim().starts_with("refs/heads/") && r.trim() != "." => {
                        Ok(Some(Upstream {
                            remote: r.trim().to_string(),
                            branch: m.trim().trim_start_matches("refs/heads/").to_string(),
                        }))
                    }
                    _ => Err(TgError::Usage(format!(
                        "branch {b} has no upstream on a remote: tg cannot tell whether the forge has this code (nor where a Tier-0 state commit goes). Push and merge it, then apply from the default branch (or set an upstream: git branch --set-upstream-to=origin/{b}); nothing was applied."
                    ))),
                }
            }
            _ => match std::env::var("CI_COMMIT_BRANCH").ok().filter(|b| !b.is_empty()) {
                Some(b) if remotes.lines().any(|r| r.trim() == "origin") => Ok(Some(Upstream {
                    remote: "origin".into(),
                    branch: b,
                })),
                _ => Err(TgError::Usage(
                    "the checkout is a detached HEAD and CI_COMMIT_BRANCH names no branch of remote origin: tg cannot tell whether the forge has this code (nor where a Tier-0 state commit goes). Check out the branch (git switch main); nothing was applied.".into(),
                )),
            },
        }
    }

    /// The forge's default branch: Woodpecker's `CI_REPO_DEFAULT_BRANCH`,
    /// else `refs/remotes/<remote>/HEAD` (set by `git clone`), else what
    /// the remote's HEAD points to (`git ls-remote --symref`).
    pub fn default_branch(&self, remote: &str) -> Result<String, TgError> {
        if let Some(b) = std::env::var("CI_REPO_DEFAULT_BRANCH")
            .ok()
            .filter(|b| !b.is_empty())
        {
            return Ok(b);
        }
        let prefix = format!("refs/remotes/{remote}/");
        if let Ok(r) = self.run(&["symbolic-ref", "-q", &format!("{prefix}HEAD")])
            && let Some(b) = r.trim().strip_prefix(&prefix)
        {
            return Ok(b.to_string());
        }
        let step = format!("find the default branch of {remote}");
        let out = self.step(&step, &["ls-remote", "--symref", remote, "HEAD"])?;
        out.lines()
            .find_map(|l| {
                l.strip_prefix("ref: refs/heads/")
                    .and_then(|r| r.split_whitespace().next())
            })
            .map(str::to_string)
            .ok_or_else(|| {
                TgError::step(
                    step,
                    format!("{remote} names no default branch (HEAD); set it: git remote set-head {remote} --auto"),
                )
            })
    }

    /// The full message of `rev`.
    pub fn commit_message(&self, rev: &str) -> Result<String, TgError> {
        self.step(
            "read the commit message",
            &["log", "-1", "--format=%B", rev, "--"],
        )
    }

    /// Files with uncommitted changes under `paths`.
    pub fn dirty(&self, paths: &[&str]) -> Result<Vec<String>, TgError> {
        let mut args = vec!["status", "--porcelain=v1", "--untracked-files=all", "--"];
        args.extend_from_slice(paths);
        Ok(self
            .step("read git status", &args)?
            .lines()
            .map(|l| l.get(3..).unwrap_or(l).to_string())
            .collect())
    }

    /// Tracked files that git-crypt should decrypt but that hold ciphertext
    /// (`\0GITCRYPT\0` header): the clone was never `git-crypt unlock`ed,
    /// and terraform would read ciphertext `*.tfvars`.
    pub fn git_crypt_locked(&self) -> Result<Vec<String>, TgError> {
        let files = self.step("list tracked files", &["ls-files", "-z"])?;
        let mut cmd = self.command(&["check-attr", "-z", "--stdin", "filter"]);
        cmd.stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = cmd
            .spawn()
            .map_err(|e| TgError::step("read git attributes", e))?;
        if let Some(mut stdin) = child.stdin.take() {
            use std::io::Write;
            let writer = std::thread::spawn(move || stdin.write_all(files.as_bytes()));
            let out = child
                .wait_with_output()
                .map_err(|e| TgError::step("read git attributes", e))?;
            let _ = writer.join();
            // -z output: path NUL attribute NUL value NUL, repeated.
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            let fields: Vec<&str> = text.split('\0').collect();
            let mut locked = Vec::new();
            for triple in fields.chunks(3) {
                if let [path, _, value] = triple
                    && *value == "git-crypt"
                    && starts_with_git_crypt_header(&self.root.join(path))
                {
                    locked.push(path.to_string());
                }
            }
            return Ok(locked);
        }
        Err(TgError::step("read git attributes", "no stdin for git"))
    }

    /// Fetches the upstream branch into its tracking ref.
    fn fetch(&self, up: &Upstream) -> Result<(), TgError> {
        let refspec = format!("+refs/heads/{}:{}", up.branch, up.tracking());
        self.step(
            &format!("fetch {} to check the forge has this code", up.shown()),
            &["fetch", "-q", "--no-tags", &up.remote, &refspec],
        )
        .map(|_| ())
    }

    /// Paths changed between two commits.
    fn changed(&self, from: &str, to: &str) -> Result<Vec<String>, TgError> {
        Ok(self
            .step("read git history", &["diff", "--name-only", "-z", from, to])?
            .split('\0')
            .filter(|p| !p.is_empty())
            .map(str::to_string)
            .collect())
    }

    fn count(&self, range: &str) -> Result<usize, TgError> {
        self.step("read git history", &["rev-list", "--count", range])?
            .trim()
            .parse()
            .map_err(|e| TgError::step("read git history", e))
    }

    /// Local commits the upstream's tracking ref does not have.
    pub fn unpushed(&self, up: &Upstream) -> Result<usize, TgError> {
        self.count(&format!("{}..HEAD", up.tracking()))
    }

    /// Commits `rel` alone (the index's other entries are left as they are).
    pub fn commit_state(&self, rel: &str, message: &str) -> Result<(), TgError> {
        let hint = "(the new encrypted state is in the working tree; commit it by hand)";
        self.step(&format!("git add {rel} {hint}"), &["add", "--", rel])?;
        self.step(
            &format!("git commit {rel} {hint}"),
            &[
                "commit",
                "-q",
                "--no-verify",
                "-m",
                message,
                "--only",
                "--",
                rel,
            ],
        )?;
        Ok(())
    }

    /// Replays the local state-only commits `base..HEAD` onto `onto` with
    /// plumbing (the working tree is not touched, so a human's unrelated
    /// edits are safe) and returns the new tip. Refuses when `onto`
    /// changed one of the same files since `base`: two encrypted states
    /// cannot be merged.
    fn replay_state_commits(&self, onto: &str) -> Result<String, TgError> {
        let step = "rebase the state commit onto the forge's branch";
        let base = self
            .step(step, &["merge-base", "HEAD", onto])?
            .trim()
            .to_string();
        let ours = self.changed(&base, "HEAD")?;
        let theirs = self.changed(&base, onto)?;
        if let Some(clash) = ours.iter().find(|p| theirs.contains(p)) {
            return Err(TgError::step(
                step,
                format!(
                    "the forge has a newer {clash} than the one this run started from: two runs applied the same stack (was its lock broken?). Encrypted states cannot be merged; the local state commit stays unpushed. Compare both (git log -p HEAD...{onto} -- {clash}), keep the right one, then push."
                ),
            ));
        }
        let commits = self.step(step, &["rev-list", "--reverse", &format!("{base}..HEAD")])?;
        let index = tempfile::Builder::new()
            .prefix("tg-index-")
            .tempfile()
            .map_err(|e| TgError::step(step, e))?;
        let index_path = index.path().to_path_buf();
        let with_index = |args: &[&str]| -> Result<String, TgError> {
            let mut cmd = self.command(args);
            cmd.env("GIT_INDEX_FILE", &index_path);
            self.run_cmd(&mut cmd, args)
                .map_err(|e| TgError::step(step, e))
        };
        let mut tip = self.rev(onto)?;
        for commit in commits.split_whitespace() {
            with_index(&["read-tree", &tip])?;
            let parent = format!("{commit}^");
            for path in self.changed(&parent, commit)? {
                let entry = self.step(step, &["ls-tree", "-z", commit, "--", &path])?;
                let line = match entry.split('\0').next().filter(|e| !e.is_empty()) {
                    // "<mode> blob <sha>\t<path>" → "<mode> <sha>\t<path>"
                    Some(e) => e.replacen(" blob ", " ", 1),
                    None => format!("0 {}\t{path}", "0".repeat(40)),
                };
                let mut cmd = self.command(&["update-index", "--index-info"]);
                cmd.env("GIT_INDEX_FILE", &index_path)
                    .stdin(std::process::Stdio::piped())
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped());
                let mut child = cmd.spawn().map_err(|e| TgError::step(step, e))?;
                if let Some(mut stdin) = child.stdin.take() {
                    use std::io::Write;
                    stdin
                        .write_all(format!("{line}\n").as_bytes())
                        .map_err(|e| TgError::step(step, e))?;
                }
                let out = child
                    .wait_with_output()
                    .map_err(|e| TgError::step(step, e))?;
                if !out.status.success() {
                    return Err(TgError::step(
                        step,
                        String::from_utf8_lossy(&out.stderr).into_owned(),
                    ));
                }
            }
            let tree = with_index(&["write-tree"])?.trim().to_string();
            let meta = self.step(
                step,
                &["log", "-1", "--format=%an%x00%ae%x00%aD%x00%B", commit],
            )?;
            let mut parts = meta.splitn(4, '\0');
            let (name, email, date, msg) = (
                parts.next().unwrap_or(""),
                parts.next().unwrap_or(""),
                parts.next().unwrap_or(""),
                parts.next().unwrap_or("").trim_end(),
            );
            let mut cmd = self.command(&["commit-tree", &tree, "-p", &tip, "-m", msg]);
            cmd.env("GIT_AUTHOR_NAME", name)
                .env("GIT_AUTHOR_EMAIL", email)
                .env("GIT_AUTHOR_DATE", date);
            tip = self
                .run_cmd(&mut cmd, &["commit-tree"])
                .map_err(|e| TgError::step(step, e))?
                .trim()
                .to_string();
        }
        Ok(tip)
    }

    /// Moves HEAD (branch or detached) to `commit`, keeping local edits;
    /// only files that differ between HEAD and `commit` change.
    fn move_head(&self, commit: &str) -> Result<(), String> {
        self.run(&["reset", "-q", "--keep", commit]).map(|_| ())
    }
}

fn starts_with_git_crypt_header(path: &Path) -> bool {
    use std::io::Read;
    let mut head = [0u8; 10];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .is_ok()
        && &head == b"\0GITCRYPT\0"
}

/// The code (not `state/`) paths that changed from `base` to `to`, the
/// first three joined for a message, or None when only Tier-0 state
/// commits lie between: those are neither code nor refused.
fn code_changed(git: &Git, base: &str, to: &str) -> Result<Option<String>, TgError> {
    let code: Vec<String> = git
        .changed(base, to)?
        .into_iter()
        .filter(|p| !p.starts_with(STATE_DIR))
        .collect();
    Ok((!code.is_empty()).then(|| code.into_iter().take(3).collect::<Vec<_>>().join(", ")))
}

/// What [`check_forge`] found: the upstream (None for a repository
/// without remotes) and how far HEAD is from it.
#[derive(Debug, Clone)]
pub struct ForgeState {
    pub upstream: Option<Upstream>,
    /// Commits the upstream lacks (state-only: anything else is refused).
    pub ahead: usize,
    /// Commits HEAD lacks (state-only: anything else is refused).
    pub behind: usize,
}

/// Every mutating run, every tier: the checkout must be what the forge's
/// default branch has. Refuses, naming the cause and the fix, a
/// git-crypt-locked clone, uncommitted changes to the stack's own files, a
/// branch other than the forge's default one (an unmerged branch applied
/// live is destroyed by the next apply from main: seeds/001 lines 165-186),
/// HEAD with code commits the upstream does not have (a local lineage
/// applied live but never pushed: seeds/003 lines 30-48), and a checkout
/// behind its upstream by code commits. Commits that change only `state/`
/// (Tier-0 state commits) are neither code nor refused.
///
/// `break_glass` (`--from-unpushed`) turns every refusal but the
/// git-crypt one into a warning: ciphertext is never a valid input.
/// A repository without any remote has nothing to compare with: a note.
pub fn check_forge(git: &Git, stack: &str, break_glass: bool) -> Result<ForgeState, TgError> {
    if git.run(&["rev-parse", "--git-dir"]).is_err() {
        eprintln!("tg: not a git checkout: nothing to compare with the forge (no forge check)");
        return Ok(ForgeState {
            upstream: None,
            ahead: 0,
            behind: 0,
        });
    }
    let locked = git.git_crypt_locked()?;
    if !locked.is_empty() {
        return Err(TgError::Usage(format!(
            "this clone is git-crypt-locked: {} (and {} more) hold ciphertext, which terraform would read as values. Run `git-crypt unlock` (or apply from a clone that has the key); nothing was applied.",
            locked[0],
            locked.len() - 1
        )));
    }
    let refuse = |msg: String| -> Result<(), TgError> {
        if break_glass {
            eprintln!("tg: WARNING (--from-unpushed, break-glass): applying anyway: {msg}");
            Ok(())
        } else {
            Err(TgError::Usage(format!("{msg}; nothing was applied.")))
        }
    };
    let own = [
        format!("stacks/{stack}"),
        format!("{STATE_DIR}stacks/{stack}"),
    ];
    let dirty = git.dirty(&[&own[0], &own[1]])?;
    if !dirty.is_empty() {
        refuse(format!(
            "uncommitted changes in {stack}'s own files: {}. tg applies only committed code the forge has, so what runs live is what anyone can check out: commit and push them (or stash them) first",
            dirty.join(", ")
        ))?;
    }
    let upstream = match git.upstream() {
        Err(e) if break_glass => {
            eprintln!("tg: WARNING (--from-unpushed, break-glass): applying anyway: {e}");
            None
        }
        other => other?,
    };
    let Some(up) = upstream else {
        eprintln!(
            "tg: this repository has no git remote: nothing to compare with (no forge check; a Tier-0 state commit stays local)"
        );
        return Ok(ForgeState {
            upstream: None,
            ahead: 0,
            behind: 0,
        });
    };
    let default = git.default_branch(&up.remote)?;
    if up.branch != default {
        refuse(format!(
            "the checkout follows {}, not the forge's default branch {}/{default}: tg applies only what {default} has (a stack applied live from an unmerged branch is destroyed by the next apply from {default}). Merge the branch, then apply from {default} (git switch {default} && git pull --rebase)",
            up.shown(),
            up.remote
        ))?;
    }
    git.fetch(&up)?;
    let tracking = up.tracking();
    let ahead = git.count(&format!("{tracking}..HEAD"))?;
    let behind = git.count(&format!("HEAD..{tracking}"))?;
    if ahead == 0 && behind == 0 {
        return Ok(ForgeState {
            upstream: Some(up),
            ahead,
            behind,
        });
    }
    let base = git
        .step("read git history", &["merge-base", "HEAD", &tracking])?
        .trim()
        .to_string();
    if ahead > 0
        && let Some(code) = code_changed(git, &base, "HEAD")?
    {
        refuse(format!(
            "HEAD has {ahead} commit(s) that {} does not have, changing code ({code}): tg applies only what the forge has, so what runs live is code everyone sees. Push them (git push), or apply from {}",
            up.shown(),
            up.shown()
        ))?;
    }
    if behind > 0
        && let Some(code) = code_changed(git, &base, &tracking)?
    {
        refuse(format!(
            "the checkout is {behind} commit(s) behind {} (new code: {code}): applying it would undo what the forge has. Run `git pull --rebase`, then apply again",
            up.shown()
        ))?;
    }
    Ok(ForgeState {
        upstream: Some(up),
        ahead,
        behind,
    })
}

/// Before a mutating Tier-0 run of `stack` (lock held): [`check_forge`],
/// then, when the forge has new state commits of other runs, takes them
/// (their code is the same; their state is the current one). Returns the
/// upstream to push to, `None` for a repository without remotes.
pub fn sync_before(git: &Git, stack: &str) -> Result<Option<Upstream>, TgError> {
    let ForgeState {
        upstream,
        ahead,
        behind,
    } = check_forge(git, stack, false)?;
    let Some(up) = upstream else {
        return Ok(None);
    };
    if behind == 0 {
        return Ok(Some(up));
    }
    let tracking = up.tracking();
    let head = git.rev("HEAD")?;
    // Only other runs' state commits are new: take them, so this run
    // starts from the state the forge has.
    let target = if ahead > 0 {
        git.replay_state_commits(&tracking)?
    } else {
        git.rev(&tracking)?
    };
    git.move_head(&target).map_err(|e| {
        TgError::step(
            format!(
                "fast-forward over {behind} state commit(s) from {}",
                up.shown()
            ),
            format!("{e}\nRun `git pull --rebase`, then apply again; nothing was applied."),
        )
    })?;
    eprintln!(
        "tg: took {behind} new state commit(s) from {} ({} → {})",
        up.shown(),
        &head[..head.len().min(8)],
        &target[..target.len().min(8)]
    );
    Ok(Some(up))
}

/// After the state commit: pushes HEAD to the upstream branch. When the
/// forge moved meanwhile, fetches, replays the local state commits on top
/// and tries again, `attempts` times in all. On failure the commit stays
/// local and the error says what to run.
pub fn push_state(git: &Git, up: &Upstream, attempts: u32) -> Result<(), TgError> {
    let dest = format!("HEAD:refs/heads/{}", up.branch);
    let mut last = String::new();
    for attempt in 1..=attempts.max(1) {
        match git.run(&["push", "-q", "--no-verify", &up.remote, &dest]) {
            Ok(_) => {
                eprintln!("tg: pushed the state commit to {}", up.shown());
                // Keep the tracking ref in step for the next run's checks.
                let _ = git.fetch(up);
                return Ok(());
            }
            Err(e) => last = e,
        }
        let rejected = [
            "[rejected]",
            "non-fast-forward",
            "fetch first",
            "stale info",
        ]
        .iter()
        .any(|w| last.contains(w));
        if !rejected || attempt == attempts.max(1) {
            break;
        }
        eprintln!(
            "tg: {} moved during the run: rebasing the state commit onto it (attempt {attempt}/{attempts})",
            up.shown()
        );
        git.fetch(up)?;
        let tip = git.replay_state_commits(&up.tracking())?;
        git.move_head(&tip).map_err(|e| {
            TgError::step(
                "move the checkout onto the rebased state commit",
                format!("{e}\nThe state commit {tip} exists but is not checked out: run `git reset --keep {tip}` then `git push`."),
            )
        })?;
    }
    Err(TgError::step(
        format!("push the state commit to {}", up.shown()),
        format!(
            "{last}\nThe encrypted state is committed locally but NOT on the forge. Run `git pull --rebase && git push` from {} before anyone else applies this stack.",
            git.root.display()
        ),
    ))
}

/// Whether `dir` is in the main checkout rather than a linked worktree
/// (git-crypt'd files read as ciphertext in worktrees, per the seeds).
/// Returns the main checkout's path when `dir` is in a linked worktree.
pub fn main_checkout_status(dir: &Path) -> Result<Option<PathBuf>, TgError> {
    let git = |arg: &str| -> Option<PathBuf> {
        let out = Command::new("git")
            .args(["rev-parse", "--path-format=absolute", arg])
            .current_dir(dir)
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
    };
    let (Some(git_dir), Some(common)) = (git("--git-dir"), git("--git-common-dir")) else {
        return Ok(None); // not a git repo: nothing to protect
    };
    if git_dir == common {
        Ok(None)
    } else {
        Ok(Some(common.parent().unwrap_or(&common).to_path_buf()))
    }
}

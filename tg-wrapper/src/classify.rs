//! Sorting a failed run's output into `locked`, `transient` or `fatal`.
//!
//! One ordered pattern table, used by `tg classify` and by the CI loop.
//! The order encodes the seeds' lessons:
//! 1. State that could not be saved after changes (`Failed to persist
//!    state`, `errored.tfstate`) is fatal and never retried: a retry would
//!    apply again on top of state that was not recorded.
//! 2. Lock contention is `locked` (SKIPPED in CI) — both the Tier-0 lock
//!    (`is locked by`) and the Tier-1 pg-backend lock — unless the lock
//!    error is really a dropped connection, which is `transient`.
//! 3. Provider downloads, Vault 5xx and a PostgreSQL connection dropped
//!    before anything changed are `transient` (bounded retry).
//! 4. Failures that a retry cannot fix but a known command can are their
//!    own classes, so `tg classify` and the CI report name the fix
//!    ([`fix_advice`]): `already-exists` (an object the state does not
//!    know: import it; the seeds' nine-day `alert-digest` CronJob,
//!    seeds/001 lines 2542-2549), `lock-file` (the dependency lock file
//!    does not match the configuration or the packages: relock; seeds/001
//!    lines 1506-1509, 1760-1764) and `destroy-refused` (the destroy brake,
//!    [`crate::plan_check`]). None is retried.
//! 5. Everything else — helm atomic timeouts, configuration errors — is
//!    `fatal`: retrying cannot fix it and can worsen a stuck release.
//!
//! A repo may add patterns in `.tg.toml` (`[[classify.pattern]]`); they are
//! checked before the built-in table.

use regex::Regex;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Class {
    Locked,
    Transient,
    Fatal,
    /// The object exists but the state does not know it: `tg import`.
    AlreadyExists,
    /// The dependency lock file disagrees with the configuration or the
    /// provider packages: `tg providers lock`.
    LockFile,
    /// The destroy brake refused the plan.
    DestroyRefused,
}

impl std::fmt::Display for Class {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Class::Locked => "locked",
            Class::Transient => "transient",
            Class::Fatal => "fatal",
            Class::AlreadyExists => "already-exists",
            Class::LockFile => "lock-file",
            Class::DestroyRefused => "destroy-refused",
        })
    }
}

/// One row of the table: when `regex` matches (and `unless`, if given,
/// does not), the output is `class`.
#[derive(Debug, Clone)]
pub struct Pattern {
    pub name: String,
    pub class: Class,
    pub regex: Regex,
    pub unless: Option<Regex>,
}

/// A connection that broke: turns a lock error into `transient`.
const CONNECTION_ERROR: &str = r"(?i)connection refused|connection reset|server closed the connection|broken pipe|i/o timeout|no route to host|EOF$|dial tcp|could not connect to server|failed to connect to";
/// Signs that the engine had started changing resources.
const CHANGES_STARTED: &str = r"Creating\.\.\.|Modifying\.\.\.|Destroying\.\.\.|Still creating|Still modifying|Still destroying|Creation complete|Modifications complete|Destruction complete";

fn p(name: &str, class: Class, regex: &str, unless: Option<&str>) -> Pattern {
    Pattern {
        name: name.to_string(),
        class,
        regex: Regex::new(regex).expect("built-in pattern"),
        unless: unless.map(|u| Regex::new(u).expect("built-in pattern")),
    }
}

/// The built-in table, in priority order.
pub fn builtin() -> Vec<Pattern> {
    vec![
        p(
            "state not persisted after changes",
            Class::Fatal,
            r"Failed to persist state|errored\.tfstate|Failed to save state",
            None,
        ),
        p(
            "destroy brake",
            Class::DestroyRefused,
            r"tg: destroy brake: refused",
            None,
        ),
        p(
            "dependency lock file",
            Class::LockFile,
            &lock_file_pattern(),
            None,
        ),
        p(
            "already exists",
            Class::AlreadyExists,
            r"(?m)^[│\s]*Error: .*(already exists|cannot re-use a name that is still in use)",
            None,
        ),
        p(
            "saved plan is stale",
            Class::Transient,
            r"Saved plan is stale",
            None,
        ),
        p(
            "pg lock lost to a connection error",
            Class::Transient,
            &format!(r"(?s)Error acquiring the state lock.*({CONNECTION_ERROR})"),
            None,
        ),
        p("Tier-0 lock", Class::Locked, r"is locked by", None),
        p(
            "state lock held",
            Class::Locked,
            r"Error acquiring the state lock|already locked|Error locking state",
            None,
        ),
        p(
            "provider install",
            Class::Transient,
            r"Failed to install provider|Failed to query available provider packages|could not query provider registry|Error while installing",
            None,
        ),
        p(
            "registry timeout",
            Class::Transient,
            r"Client\.Timeout exceeded while awaiting headers|TLS handshake timeout|net/http: request canceled while waiting for connection",
            None,
        ),
        p(
            "registry 5xx",
            Class::Transient,
            r"(?i)(registry\.terraform\.io|registry\.opentofu\.org|releases\.hashicorp\.com|github\.com/.*/releases)[^\n]*\b(500|502|503|504)\b|\b(502 Bad Gateway|503 Service Unavailable|504 Gateway Time-?out)\b[^\n]*(registry|provider|download)",
            None,
        ),
        p(
            "download connection reset",
            Class::Transient,
            r"(?i)(download|registry|provider)[^\n]*connection reset by peer",
            None,
        ),
        p(
            "Vault 5xx",
            Class::Transient,
            r"(?s)error reading from Vault.*Code: 5[0-9][0-9]|Code: 5[0-9][0-9]\. Errors:[^\n]*(Vault is sealed|local node not active|upstream)",
            None,
        ),
        p(
            "pg connection dropped before changes",
            Class::Transient,
            &format!(
                r"(?i)(pq:|postgres|pg backend|:5432|Failed to get existing workspaces|Error loading state|error configuring the backend)[^\n]*({CONNECTION_ERROR})|({CONNECTION_ERROR})[^\n]*(:5432|postgres)"
            ),
            Some(CHANGES_STARTED),
        ),
    ]
}

/// The table in effect: the repo's own patterns first, then the built-ins.
#[derive(Debug, Clone)]
pub struct Classifier {
    pub patterns: Vec<Pattern>,
}

impl Default for Classifier {
    fn default() -> Self {
        Classifier {
            patterns: builtin(),
        }
    }
}

impl Classifier {
    pub fn with_extra(extra: Vec<Pattern>) -> Classifier {
        let mut patterns = extra;
        patterns.extend(builtin());
        Classifier { patterns }
    }

    /// The class and the name of the rule that decided it.
    pub fn classify(&self, output: &str) -> (Class, String) {
        for pat in &self.patterns {
            if pat.regex.is_match(output)
                && !pat.unless.as_ref().is_some_and(|u| u.is_match(output))
            {
                return (pat.class, pat.name.clone());
            }
        }
        (Class::Fatal, "no retryable or lock signature".into())
    }
}

/// The dependency lock file disagrees with the configuration (a provider
/// without a selected version, a version outside the constraint) or with
/// the packages (checksums); terraform's and OpenTofu's words.
fn lock_file_pattern() -> String {
    format!(
        r"Inconsistent dependency lock file|{}|{}|locked provider [^\s]+ [^\s]+[\s│]+{}",
        words("doesn't match any of the checksums"),
        words("does not match any of the checksums"),
        words("does not match configured version constraint")
    )
}

/// `text` as a regex matching its words across terraform's line wraps and
/// diagnostic box (`│`).
fn words(text: &str) -> String {
    text.split(' ')
        .map(regex::escape)
        .collect::<Vec<_>>()
        .join(r"[\s│]+")
}

/// What to run for a failure, when its output says: the errored-state
/// advice, the `tg import` line(s) for `already exists`, the lock command
/// for lock file errors, the destroy brake's refusal (what and how to
/// allow it). Shown by `tg classify` and in `tg ci`'s FAILED rows, where
/// the `stack` is known and goes into the `tg import` line.
pub fn fix_advice(output: &str, stack: Option<&str>) -> Option<String> {
    let mut out = Vec::new();
    if let Some(a) = errored_state_advice(output) {
        out.push(a);
    }
    if let Some(start) = output.find("tg: destroy brake: refused") {
        let block: Vec<&str> = output[start..]
            .lines()
            .take_while(|l| !l.contains("Nothing was applied."))
            .collect();
        out.push(format!("{}\n  Nothing was applied.", block.join("\n")));
    }
    let imports = import_lines(output, stack);
    if !imports.is_empty() {
        out.push(format!(
            "The object exists but the state does not know it (an apply whose state write was lost creates this; every later apply fails until it is imported). Check it is the one the configuration means, then import it:\n{}",
            imports
                .iter()
                .map(|l| format!("    {l}"))
                .collect::<Vec<_>>()
                .join("\n")
        ));
    }
    if Regex::new(&lock_file_pattern())
        .expect("built-in pattern")
        .is_match(output)
    {
        out.push(
            "The dependency lock file (.terraform.lock.hcl) does not match the configuration or the provider packages. Update the lock files of every stack for every platform in .tg.toml, then commit them:\n    tg providers lock\n(one stack: tg providers lock --stack <name>)"
                .to_string(),
        );
    }
    (!out.is_empty()).then(|| out.join("\n"))
}

/// `tg import [--stack S] <address> <id>` for each `already exists` diagnostic: the
/// address from its `with <address>,` line, the ID where the provider's
/// error gives it (`A resource with the ID "..." already exists`), else
/// `<ID>` to fill in (Kubernetes: `<namespace>/<name>`).
pub fn import_lines(output: &str, stack: Option<&str>) -> Vec<String> {
    let error = Regex::new(
        r"^[│\s]*Error: (.*(already exists|cannot re-use a name that is still in use).*)$",
    )
    .expect("built-in pattern");
    let with = Regex::new(r"^[│\s]*with ([^\s,]+),").expect("built-in pattern");
    let given_id = Regex::new(r#"(?i)(?:resource with the ID|import ID) "([^"]+)""#)
        .expect("built-in pattern");
    let k8s = Regex::new(r#"^[a-z0-9.]+ "([^"]+)" already exists"#).expect("built-in pattern");
    let lines: Vec<&str> = output.lines().collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let Some(err) = error.captures(line) else {
            continue;
        };
        let message = err[1].trim();
        let Some(address) = lines[i + 1..]
            .iter()
            .take(6)
            .find_map(|l| with.captures(l).map(|c| c[1].to_string()))
        else {
            continue;
        };
        let rtype = address.split('.').rev().nth(1).unwrap_or("").to_string();
        let id = if let Some(c) = given_id.captures(message) {
            c[1].to_string()
        } else if let (true, Some(c)) = (rtype.starts_with("kubernetes_"), k8s.captures(message)) {
            if rtype.starts_with("kubernetes_namespace") {
                c[1].to_string()
            } else {
                format!("<namespace>/{}", &c[1])
            }
        } else {
            "<ID>".to_string()
        };
        let quoted = if address.contains('"') || address.contains('[') {
            format!("'{address}'")
        } else {
            address.clone()
        };
        let line = match stack {
            Some(s) => format!("tg import --stack {s} {quoted} {id}"),
            None => format!("tg import {quoted} {id}"),
        };
        if !out.contains(&line) {
            out.push(line);
        }
    }
    out
}

/// When the errored state was kept locally: where it is and how to push it.
pub fn errored_state_advice(output: &str) -> Option<String> {
    if !Regex::new(r"Failed to persist state|errored\.tfstate")
        .ok()?
        .is_match(output)
    {
        return None;
    }
    Some(
        "!!! STATE WAS NOT SAVED: terraform changed real resources but could not write the state.\n\
         !!! It kept the new state in `errored.tfstate` in the stack folder (of the machine or CI workspace that ran it).\n\
         !!! Do NOT re-run apply. Copy that file out, then from the stack folder run:\n\
         !!!     tg state push errored.tfstate\n\
         !!! (CI workspaces are deleted after the run: collect the file from the step's artifacts or logs first.)"
            .to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_of_rules() {
        let c = Classifier::default();
        assert_eq!(
            c.classify("Error: Failed to persist state ... errored.tfstate ... is locked by")
                .0,
            Class::Fatal
        );
        assert_eq!(c.classify("Error acquiring the state lock\n\nError message: dial tcp 10.0.20.200:5432: connect: connection refused").0, Class::Transient);
        assert_eq!(
            c.classify("Error acquiring the state lock\n\nLock Info:\n  ID: 1")
                .0,
            Class::Locked
        );
        assert_eq!(c.classify("aws_instance.x: Creating...\nError: pq: server closed the connection unexpectedly postgres").0, Class::Fatal);
        assert_eq!(c.classify("Error: something else").0, Class::Fatal);
    }

    #[test]
    fn import_line_names_the_stack_when_known() {
        let out =
            "│ Error: namespaces \"x\" already exists\n│ \n│   with kubernetes_namespace.x,\n";
        assert_eq!(
            import_lines(out, Some("web")),
            ["tg import --stack web kubernetes_namespace.x x"]
        );
        assert_eq!(
            import_lines(out, None),
            ["tg import kubernetes_namespace.x x"]
        );
    }
}

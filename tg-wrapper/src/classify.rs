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
//! 4. Everything else — helm atomic timeouts, configuration errors — is
//!    `fatal`: retrying cannot fix it and can worsen a stuck release.
//!
//! A repo may add patterns in `.tg.toml` (`[[classify.pattern]]`); they are
//! checked before the built-in table.

use regex::Regex;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Class {
    Locked,
    Transient,
    Fatal,
}

impl std::fmt::Display for Class {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Class::Locked => "locked",
            Class::Transient => "transient",
            Class::Fatal => "fatal",
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
}

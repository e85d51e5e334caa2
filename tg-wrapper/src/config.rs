//! `.tg.toml` at the repo root: CI settings and extra classify patterns.
//!
//! ```toml
//! [ci]
//! canonical_forge = "forgejo.example.org"   # the only forge that applies
//! mirror_forges = ["github.com"]            # forges that never apply (default)
//! platform_stacks = ["infra", "platform", "cnpg", "vault", "dbaas"]
//! skip_stacks = ["vault"]                   # never applied by CI (default)
//! attempts = 3                              # transient retries (default 3)
//! retry_delay_secs = 15                     # between attempts (default 15)
//!
//! [tier0]
//! lock_mount = "secret"                     # KV v2 mount of the Tier-0 lock (default)
//! lock_path = "tg/locks"                    # entry per stack under it (default)
//! lease_secs = 120                          # a dead holder blocks at most this long
//! push_attempts = 3                         # push, rebase-on-race, push again
//!
//! [destroy]                                # the destroy brake (docs/tg.md)
//! allow = [{ stack = "scratch" }, { type = "kubernetes_job_v1" }]
//! protected = [{ type = "kubernetes_persistent_volume_claim*" }, { stack = "vault" }]
//!
//! [providers]
//! platforms = ["linux_amd64", "darwin_arm64"]   # `tg providers lock` (default)
//!
//! [[classify.pattern]]
//! class = "transient"
//! regex = "rate limit exceeded"
//! ```

use serde::Deserialize;

use crate::classify::{Class, Classifier, Pattern};
use crate::error::TgError;
use crate::plan_check::DestroyConfig;
use crate::repo::Repo;

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct CiConfig {
    pub canonical_forge: Option<String>,
    pub mirror_forges: Vec<String>,
    pub platform_stacks: Vec<String>,
    pub skip_stacks: Vec<String>,
    pub attempts: u32,
    pub retry_delay_secs: u64,
}

impl Default for CiConfig {
    fn default() -> Self {
        CiConfig {
            canonical_forge: None,
            mirror_forges: vec!["github.com".into()],
            platform_stacks: Vec::new(),
            skip_stacks: vec!["vault".into()],
            attempts: 3,
            retry_delay_secs: 15,
        }
    }
}

/// Where the Tier-0 lock lives and how state commits reach the forge.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct Tier0Config {
    pub lock_mount: String,
    pub lock_path: String,
    pub lease_secs: u64,
    pub push_attempts: u32,
}

impl Default for Tier0Config {
    fn default() -> Self {
        Tier0Config {
            lock_mount: "secret".into(),
            lock_path: "tg/locks".into(),
            lease_secs: 120,
            push_attempts: 3,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct PatternSpec {
    class: Class,
    regex: String,
    #[serde(default)]
    name: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct ClassifySection {
    pattern: Vec<PatternSpec>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct File {
    ci: CiConfig,
    tier0: Tier0Config,
    classify: ClassifySection,
    destroy: DestroyConfig,
    providers: ProvidersConfig,
}

/// `tg providers lock`: the platforms every stack's lock file covers.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct ProvidersConfig {
    pub platforms: Vec<String>,
}

impl Default for ProvidersConfig {
    fn default() -> Self {
        ProvidersConfig {
            platforms: vec!["linux_amd64".into(), "darwin_arm64".into()],
        }
    }
}

/// The repo's settings (defaults when `.tg.toml` is absent).
#[derive(Debug, Clone)]
pub struct Settings {
    pub ci: CiConfig,
    pub tier0: Tier0Config,
    pub classifier: Classifier,
    pub destroy: DestroyConfig,
    pub providers: ProvidersConfig,
}

impl Settings {
    pub fn load(repo: Option<&Repo>) -> Result<Settings, TgError> {
        let Some(path) = repo
            .map(|r| r.root.join(".tg.toml"))
            .filter(|p| p.is_file())
        else {
            return Ok(Settings {
                ci: CiConfig::default(),
                tier0: Tier0Config::default(),
                classifier: Classifier::default(),
                destroy: DestroyConfig::default(),
                providers: ProvidersConfig::default(),
            });
        };
        let step = format!("read {}", path.display());
        let text = std::fs::read_to_string(&path).map_err(|e| TgError::step(&step, e))?;
        let file: File = toml::from_str(&text).map_err(|e| TgError::step(&step, e))?;
        let extra = file
            .classify
            .pattern
            .into_iter()
            .map(|s| {
                let regex = regex::Regex::new(&s.regex)
                    .map_err(|e| TgError::step(&step, format!("pattern {:?}: {e}", s.regex)))?;
                Ok(Pattern {
                    name: s.name.unwrap_or_else(|| format!(".tg.toml: {}", s.regex)),
                    class: s.class,
                    regex,
                    unless: None,
                })
            })
            .collect::<Result<Vec<_>, TgError>>()?;
        Ok(Settings {
            ci: file.ci,
            tier0: file.tier0,
            classifier: Classifier::with_extra(extra),
            destroy: file.destroy,
            providers: file.providers,
        })
    }
}

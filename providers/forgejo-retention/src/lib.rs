//! Terraform provider `forgejo-retention` (local name `retention`):
//! retention for Forgejo's container registry that can never orphan an OCI
//! image index. Forgejo has no API for its own cleanup rules, so the policy
//! lives in git and the provider computes and executes it.

pub mod client;
pub mod graph;
pub mod permission;
pub mod policy;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use tfplugin::diag::{Diagnostic, Diagnostics};
use tfplugin::provider::{Ctx, DataSource, Provider, Resource};
use tfplugin::schema::{Attribute, Schema};
use tfplugin::value::{AttrPath, Type, Value};

/// What ConfigureProvider set up.
#[derive(Debug)]
pub struct Configured {
    pub client: client::Client,
    /// Pause between two deletions (`deletes_per_second`).
    pub delete_interval: Duration,
    /// Registry reads already made since this configuration, see [`Configured::snapshot`].
    snapshots: Mutex<Snapshots>,
}

/// Graph reads keyed by (owner, package selector), and a generation that
/// every deletion bumps so a read that raced a deletion is never kept.
#[derive(Debug, Default)]
struct Snapshots {
    generation: u64,
    reads: BTreeMap<(String, Option<String>), Arc<Vec<graph::Package>>>,
}

impl Configured {
    fn new(client: client::Client, delete_interval: Duration) -> Configured {
        Configured {
            client,
            delete_interval,
            snapshots: Mutex::default(),
        }
    }

    /// The registry graph for reads that only report (refresh, plan, data
    /// sources). Terraform configures the provider afresh for every graph
    /// walk, and a `terraform plan` refreshes and then plans the same
    /// resource in one walk: without this, a plan read the whole registry
    /// twice. A snapshot therefore lives at most one walk, and is dropped
    /// as soon as anything is deleted.
    pub fn snapshot(
        &self,
        owner: &str,
        package: Option<&str>,
    ) -> Result<Arc<Vec<graph::Package>>, String> {
        let key = (owner.to_string(), package.map(str::to_string));
        let generation = {
            let s = self
                .snapshots
                .lock()
                .map_err(|_| "snapshot lock poisoned")?;
            if let Some(hit) = s.reads.get(&key) {
                return Ok(hit.clone());
            }
            s.generation
        };
        let read = Arc::new(self.client.graphs(owner, package)?);
        let mut s = self
            .snapshots
            .lock()
            .map_err(|_| "snapshot lock poisoned")?;
        if s.generation == generation {
            s.reads.insert(key, read.clone());
        }
        Ok(read)
    }

    /// Forgets every snapshot: called once a deletion run ends, however it
    /// ends. The run's own reads go to the registry
    /// ([`client::Client::graphs`]) directly; a snapshot read that overlapped
    /// the run either was stored before this and is cleared, or finishes
    /// after it with an old generation and is not stored.
    pub fn forget_snapshots(&self) {
        if let Ok(mut s) = self.snapshots.lock() {
            s.generation += 1;
            s.reads.clear();
        }
    }
}

impl std::ops::Deref for Configured {
    type Target = client::Client;
    fn deref(&self) -> &client::Client {
        &self.client
    }
}

/// The configured client, shared by every resource and data source.
#[derive(Debug, Clone, Default)]
pub struct Shared(Arc<RwLock<Option<Arc<Configured>>>>);

impl Shared {
    pub fn get(&self) -> Result<Arc<Configured>, Diagnostics> {
        self.0.read().ok().and_then(|c| c.clone()).ok_or_else(|| {
            Diagnostics::error(
                "Provider not configured",
                "the retention provider has no url/token yet",
            )
        })
    }
}

#[derive(Debug, Clone, Default)]
pub struct RetentionProvider {
    shared: Shared,
}

fn env_or(config: &Value, attr: &str, env: &str) -> Option<String> {
    config
        .get(attr)
        .as_str()
        .map(str::to_string)
        .or_else(|| std::env::var(env).ok())
        .filter(|s| !s.is_empty())
}

impl Provider for RetentionProvider {
    fn type_name(&self) -> &'static str {
        "retention"
    }

    fn schema(&self) -> Schema {
        Schema::new(vec![
            Attribute::new("url", Type::String).optional().description("Forgejo base URL (its `/v2` registry is on the same host). Env: `FORGEJO_URL`."),
            Attribute::new("token", Type::String).optional().sensitive().description("API token with write access to the owner's packages. Env: `FORGEJO_TOKEN`. Never stored in state."),
            Attribute::new("timeout_seconds", Type::Number).optional().description("Per-request timeout. Default 30."),
            Attribute::new("retries", Type::Number).optional().description("Retries for connection errors, 5xx and rate limits (429, or 503 with `Retry-After`, retried after the wait asked) only; at most 60 s of waiting per request. Default 3."),
            Attribute::new("registry_url", Type::String).optional().description("Base URL of the OCI `/v2` API when it is not on `url` (e.g. a registry-only hostname). Env: `FORGEJO_REGISTRY_URL`."),
            Attribute::new("ca_file", Type::String).optional().description("PEM file of extra CA certificate(s) to trust for both hosts. Env: `FORGEJO_CA_FILE`."),
            Attribute::new("concurrency", Type::Number).optional().description("Manifest fetches in flight at once while reading the registry. Default 8, at most 32. Deletions are always one at a time."),
            Attribute::new("deletes_per_second", Type::Number).optional().description("Rate limit of deletions (Forgejo and its disk are shared with everything else). Default 20."),
        ])
        .description("Forgejo container-registry retention that never orphans an image index.")
    }

    fn configure(&self, _ctx: &Ctx, config: &Value) -> Diagnostics {
        let Some(url) = env_or(config, "url", "FORGEJO_URL") else {
            return Diagnostic::error("Missing Forgejo URL", "set `url` or FORGEJO_URL")
                .at(AttrPath::root().attr("url"))
                .into();
        };
        let Some(token) = env_or(config, "token", "FORGEJO_TOKEN") else {
            return Diagnostic::error("Missing Forgejo token", "set `token` or FORGEJO_TOKEN")
                .at(AttrPath::root().attr("token"))
                .into();
        };
        let int = |attr: &str, default: i64, lo: i64, hi: i64| {
            config.get(attr).as_i64().unwrap_or(default).clamp(lo, hi)
        };
        let ca_pem = match env_or(config, "ca_file", "FORGEJO_CA_FILE") {
            Some(path) => match std::fs::read(&path) {
                Ok(pem) => Some(pem),
                Err(e) => {
                    return Diagnostic::error("Cannot read the CA file", format!("{path}: {e}"))
                        .at(AttrPath::root().attr("ca_file"))
                        .into();
                }
            },
            None => None,
        };
        let options = client::Options {
            timeout: Duration::from_secs(int("timeout_seconds", 30, 1, 600) as u64),
            retries: int("retries", 3, 0, 10) as u32,
            registry_url: env_or(config, "registry_url", "FORGEJO_REGISTRY_URL"),
            ca_pem,
            concurrency: int("concurrency", 8, 1, 32) as usize,
        };
        let rate = int("deletes_per_second", 20, 1, 1000) as u64;
        match client::Client::new(&url, &token, &options) {
            Ok(c) => {
                if let Ok(mut slot) = self.shared.0.write() {
                    *slot = Some(Arc::new(Configured::new(
                        c,
                        Duration::from_micros(1_000_000 / rate),
                    )));
                }
                Diagnostics::default()
            }
            Err(e) => Diagnostics::error("Cannot configure the Forgejo client", e),
        }
    }

    fn resources(&self) -> Vec<Arc<dyn Resource>> {
        vec![Arc::new(policy::RetentionPolicy(self.shared.clone()))]
    }

    fn data_sources(&self) -> Vec<Arc<dyn DataSource>> {
        vec![
            Arc::new(policy::ImageGraph(self.shared.clone())),
            Arc::new(policy::Integrity(self.shared.clone())),
        ]
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn schemas_are_valid() {
        assert!(tfplugin::grpc::check_schemas(&super::RetentionProvider::default()).is_empty());
    }
}

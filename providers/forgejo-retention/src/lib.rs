//! Terraform provider `forgejo-retention` (local name `retention`):
//! retention for Forgejo's container registry that can never orphan an OCI
//! image index. Forgejo has no API for its own cleanup rules, so the policy
//! lives in git and the provider computes and executes it.

pub mod client;
pub mod graph;
pub mod policy;

use std::sync::{Arc, RwLock};
use std::time::Duration;

use tfplugin::diag::{Diagnostic, Diagnostics};
use tfplugin::provider::{Ctx, DataSource, Provider, Resource};
use tfplugin::schema::{Attribute, Schema};
use tfplugin::value::{AttrPath, Type, Value};

/// The configured client, shared by every resource and data source.
#[derive(Debug, Clone, Default)]
pub struct Shared(Arc<RwLock<Option<Arc<client::Client>>>>);

impl Shared {
    pub fn get(&self) -> Result<Arc<client::Client>, Diagnostics> {
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
            Attribute::new("retries", Type::Number).optional().description("Retries for connection errors and 5xx only. Default 3."),
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
        let timeout = Duration::from_secs(
            config
                .get("timeout_seconds")
                .as_i64()
                .unwrap_or(30)
                .clamp(1, 600) as u64,
        );
        let retries = config.get("retries").as_i64().unwrap_or(3).clamp(0, 10) as u32;
        match client::Client::new(&url, &token, timeout, retries) {
            Ok(c) => {
                if let Ok(mut slot) = self.shared.0.write() {
                    *slot = Some(Arc::new(c));
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

//! The provider: its configuration schema, the typed configuration read
//! from it (and the environment), and the registration of the resource and
//! data sources.

use std::sync::Arc;
use std::time::Duration;

use tfplugin::Configured;
use tfplugin::diag::{Diagnostic, Diagnostics};
use tfplugin::provider::{Ctx, DataSource, Provider, Resource};
use tfplugin::schema::{Attribute, Schema};
use tfplugin::validator::i64_in;
use tfplugin::value::{AttrPath, Type, Value};

use crate::client::{Client, Options};
use crate::connection::{Conn, ConnCell};
use crate::{data_sources, resources};

/// The provider (local name `retention`).
#[derive(Debug, Clone)]
pub struct RetentionProvider {
    conn: ConnCell,
}

impl Default for RetentionProvider {
    fn default() -> Self {
        RetentionProvider {
            conn: Arc::new(Configured::new("retention")),
        }
    }
}

/// The provider block, read once validators passed: settings from the
/// block, else from the environment, else the defaults.
#[derive(Debug)]
struct Config {
    url: String,
    token: String,
    options: Options,
    deletes_per_second: u64,
}

/// The attribute's value, else the environment variable's; empty is unset.
fn env_or(config: &Value, attr: &str, env: &str) -> Option<String> {
    config
        .get(attr)
        .string()
        .or_else(|| std::env::var(env).ok())
        .filter(|s| !s.is_empty())
}

fn at(attr: &str, d: Diagnostic) -> Diagnostics {
    d.at(AttrPath::root().attr(attr)).into()
}

impl Config {
    fn read(config: &Value) -> Result<Config, Diagnostics> {
        let url = env_or(config, "url", "FORGEJO_URL").ok_or_else(|| {
            at(
                "url",
                Diagnostic::error("Missing Forgejo URL", "set `url` or FORGEJO_URL"),
            )
        })?;
        let token = env_or(config, "token", "FORGEJO_TOKEN").ok_or_else(|| {
            at(
                "token",
                Diagnostic::error("Missing Forgejo token", "set `token` or FORGEJO_TOKEN"),
            )
        })?;
        // The ranges are the schema's validators: they already passed.
        let int = |attr: &str, range: std::ops::RangeInclusive<i64>, default: i64| {
            config
                .get(attr)
                .i64_in(range)
                .map(|v| v.unwrap_or(default))
                .map_err(|e| at(attr, Diagnostic::error(format!("Invalid {attr}"), e)))
        };
        let ca_pem = match env_or(config, "ca_file", "FORGEJO_CA_FILE") {
            Some(path) => Some(std::fs::read(&path).map_err(|e| {
                at(
                    "ca_file",
                    Diagnostic::error("Cannot read the CA file", format!("{path}: {e}")),
                )
            })?),
            None => None,
        };
        Ok(Config {
            options: Options {
                timeout: Duration::from_secs(int("timeout_seconds", TIMEOUT_SECONDS, 30)? as u64),
                retries: int("retries", RETRIES, 3)? as u32,
                registry_url: env_or(config, "registry_url", "FORGEJO_REGISTRY_URL"),
                ca_pem,
                concurrency: int("concurrency", CONCURRENCY, 8)? as usize,
            },
            deletes_per_second: int("deletes_per_second", DELETES_PER_SECOND, 20)? as u64,
            url,
            token,
        })
    }
}

const TIMEOUT_SECONDS: std::ops::RangeInclusive<i64> = 1..=600;
const RETRIES: std::ops::RangeInclusive<i64> = 0..=10;
const CONCURRENCY: std::ops::RangeInclusive<i64> = 1..=32;
const DELETES_PER_SECOND: std::ops::RangeInclusive<i64> = 1..=1000;

impl Provider for RetentionProvider {
    fn type_name(&self) -> &'static str {
        "retention"
    }

    fn schema(&self) -> Schema {
        Schema::new(vec![
            Attribute::new("url", Type::String).optional().description("Forgejo base URL (its `/v2` registry is on the same host). Env: `FORGEJO_URL`."),
            Attribute::new("token", Type::String).optional().sensitive().description("API token with write access to the owner's packages. Env: `FORGEJO_TOKEN`. Never stored in state."),
            Attribute::new("timeout_seconds", Type::Number).optional().validate(i64_in(TIMEOUT_SECONDS)).description("Per-request timeout, 1-600. Default 30."),
            Attribute::new("retries", Type::Number).optional().validate(i64_in(RETRIES)).description("Retries for connection errors, 5xx and rate limits (429, or 503 with `Retry-After`, retried after the wait asked) only; at most 60 s of waiting per request. 0-10, default 3."),
            Attribute::new("registry_url", Type::String).optional().description("Base URL of the OCI `/v2` API when it is not on `url` (e.g. a registry-only hostname). Env: `FORGEJO_REGISTRY_URL`."),
            Attribute::new("ca_file", Type::String).optional().description("PEM file of extra CA certificate(s) to trust for both hosts. Env: `FORGEJO_CA_FILE`."),
            Attribute::new("concurrency", Type::Number).optional().validate(i64_in(CONCURRENCY)).description("Manifest fetches in flight at once while reading the registry. Default 8, at most 32. Deletions are always one at a time."),
            Attribute::new("deletes_per_second", Type::Number).optional().validate(i64_in(DELETES_PER_SECOND)).description("Rate limit of deletions (Forgejo and its disk are shared with everything else), 1-1000. Default 20."),
        ])
        .description("Forgejo container-registry retention that never orphans an image index.")
    }

    fn configure(&self, _ctx: &Ctx, config: &Value) -> Diagnostics {
        let c = match Config::read(config) {
            Ok(c) => c,
            Err(d) => return d,
        };
        match Client::new(&c.url, &c.token, &c.options) {
            Ok(client) => {
                let interval = Duration::from_micros(1_000_000 / c.deletes_per_second);
                self.conn.set(Conn::new(client, interval));
                Diagnostics::default()
            }
            Err(e) => Diagnostics::error("Cannot configure the Forgejo client", e),
        }
    }

    fn resources(&self) -> Vec<Arc<dyn Resource>> {
        resources::all(&self.conn)
    }

    fn data_sources(&self) -> Vec<Arc<dyn DataSource>> {
        data_sources::all(&self.conn)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemas_are_valid() {
        assert!(tfplugin::grpc::check_schemas(&RetentionProvider::default()).is_empty());
    }

    #[test]
    fn out_of_range_settings_are_refused_not_clamped() {
        let schema = RetentionProvider::default().schema();
        let block = |attr: &str, v: i64| Value::object([(attr, Value::from(v))]);
        for (attr, bad, good) in [
            ("retries", 11, 10),
            ("retries", -1, 0),
            ("timeout_seconds", 0, 600),
            ("concurrency", 33, 1),
            ("deletes_per_second", 0, 1000),
        ] {
            let d = tfplugin::validation::validate_config(&schema, &block(attr, bad));
            assert_eq!(d.0.len(), 1, "{attr} {bad}");
            assert_eq!(d.0[0].summary, format!("Invalid {attr}"));
            assert!(
                d.0[0].detail.contains("is not a whole number in"),
                "{}",
                d.0[0].detail
            );
            assert!(tfplugin::validation::validate_config(&schema, &block(attr, good)).is_empty());
        }
    }
}

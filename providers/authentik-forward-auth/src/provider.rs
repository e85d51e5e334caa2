//! Provider configuration (`fwdauth`): where Authentik is, the API token
//! (sensitive, `AUTHENTIK_TOKEN` fallback, never stored), TLS, the outpost to
//! attach to, timeouts and retries; and the registration of the resources
//! and data sources, which share the configured [`Conn`].

use std::sync::Arc;
use std::time::Duration;

use tfplugin::Configured;
use tfplugin::diag::Diagnostics;
use tfplugin::env::Env;
use tfplugin::provider::{Ctx, DataSource, Provider, Resource};
use tfplugin::schema::{Attribute, Schema};
use tfplugin::validator::i64_in;
use tfplugin::value::{Type, Value};

use crate::client::{Api, Settings};
use crate::connection::Conn;
use crate::data_sources::carveout_check::CarveoutCheck;
use crate::resources::domain_restriction::DomainRestriction;
use crate::resources::protected_host::ProtectedHost;
use crate::validators;

/// The name Authentik gives its built-in outpost.
pub const EMBEDDED_OUTPOST: &str = "authentik Embedded Outpost";

/// The provider block as configured (validators already ran).
struct Config {
    url: Option<String>,
    token: Option<String>,
    insecure: Option<bool>,
    ca_cert_file: Option<String>,
    outpost: Option<String>,
    outpost_address: Option<String>,
    timeout_seconds: Option<i64>,
    retries: Option<i64>,
}

impl Config {
    fn read(v: &Value) -> Config {
        Config {
            url: v.get("url").string(),
            token: v.get("token").string(),
            insecure: v.get("insecure").as_bool(),
            ca_cert_file: v.get("ca_cert_file").string(),
            outpost: v.get("outpost").string(),
            outpost_address: v.get("outpost_address").string(),
            timeout_seconds: v.get("timeout_seconds").as_i64(),
            retries: v.get("retries").as_i64(),
        }
    }
}

/// The `authentik-forward-auth` provider (local name `fwdauth`).
pub struct FwdAuthProvider {
    conn: Arc<Configured<Conn>>,
    env: Env,
}

impl Default for FwdAuthProvider {
    fn default() -> Self {
        FwdAuthProvider {
            conn: Arc::new(Configured::new("fwdauth")),
            env: Env::default(),
        }
    }
}

impl FwdAuthProvider {
    /// A provider that sees exactly `env` instead of the process environment.
    pub fn with_env<I, K, V>(env: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        FwdAuthProvider {
            env: Env::fixed(env),
            ..Self::default()
        }
    }
}

impl Provider for FwdAuthProvider {
    fn type_name(&self) -> &'static str {
        "fwdauth"
    }

    fn schema(&self) -> Schema {
        let text = |name: &str, md: &str| {
            Attribute::new(name, Type::String)
                .optional()
                .description(md)
        };
        Schema::new(vec![
            text("url", "Authentik base URL, e.g. `https://authentik.example.com`. Or `AUTHENTIK_URL`.")
                .validate(validators::http_url()),
            text("token", "API token (an Authentik service-account token with rights on providers, applications, outposts, policies). Or `AUTHENTIK_TOKEN` (preferred). Never stored in state.")
                .sensitive(),
            Attribute::new("insecure", Type::Bool)
                .optional()
                .description("Skip TLS certificate verification (lab use only). Or `AUTHENTIK_INSECURE=true`."),
            text("ca_cert_file", "Path of a PEM CA certificate to trust in addition to the system roots."),
            text("outpost", "Name of the outpost protected hosts attach to (default `authentik Embedded Outpost`)."),
            text("outpost_address", "Base URL Traefik uses to reach the outpost for forwardAuth (default: `url`). For the embedded outpost this is the Authentik server itself, e.g. `http://authentik-server.authentik.svc`."),
            Attribute::new("timeout_seconds", Type::Number)
                .optional()
                .validate(i64_in(1..=3600))
                .description("Per-request timeout in seconds (default 30)."),
            Attribute::new("retries", Type::Number)
                .optional()
                .validate(i64_in(0..=10))
                .description("Retries of transient failures (connection errors, HTTP 502/503/504, any other 5xx on idempotent requests), with exponential backoff from 200 ms, and of rate limits (HTTP 429, or 503 with `Retry-After`) after the wait Authentik asks for; at most 60 s of waiting per request (default 3)."),
        ])
        .description("Manages Authentik forward-auth protection of hosts behind Traefik: one resource per protected host (proxy provider, application, access bindings, outpost membership) and the domain-wide restriction policy.")
    }

    fn configure(&self, _ctx: &Ctx, config: &Value) -> Diagnostics {
        let config = Config::read(config);
        let url = config.url.or_else(|| self.env.get("AUTHENTIK_URL"));
        let token = config.token.or_else(|| self.env.get("AUTHENTIK_TOKEN"));
        let (Some(url), Some(token)) = (url, token) else {
            return Diagnostics::error(
                "Authentik URL or token missing",
                "Set `url` and `token` in the fwdauth provider block, or AUTHENTIK_URL and AUTHENTIK_TOKEN in the environment.",
            );
        };
        let insecure = config.insecure.unwrap_or_else(|| {
            self.env
                .get("AUTHENTIK_INSECURE")
                .is_some_and(|v| v == "true")
        });
        let ca_pem = match &config.ca_cert_file {
            Some(p) => match std::fs::read(p) {
                Ok(b) => Some(b),
                Err(e) => {
                    return Diagnostics::error("Cannot read ca_cert_file", format!("{p}: {e}"));
                }
            },
            None => None,
        };
        let settings = Settings {
            url: url.clone(),
            token,
            insecure,
            ca_pem,
            timeout: Duration::from_secs(config.timeout_seconds.unwrap_or(30) as u64),
            retries: config.retries.unwrap_or(3) as u32,
            backoff: Duration::from_millis(200),
        };
        let api = match Api::new(&settings) {
            Ok(a) => a,
            Err(e) => {
                return Diagnostics::error("Invalid fwdauth connection settings (token, TLS)", e);
            }
        };
        let outpost_address = config
            .outpost_address
            .unwrap_or(url)
            .trim_end_matches('/')
            .to_string();
        self.conn.set(Conn::new(
            api,
            config
                .outpost
                .unwrap_or_else(|| EMBEDDED_OUTPOST.to_string()),
            outpost_address,
            insecure,
        ));
        Diagnostics::default()
    }

    fn resources(&self) -> Vec<Arc<dyn Resource>> {
        vec![
            Arc::new(ProtectedHost {
                conn: self.conn.clone(),
            }),
            Arc::new(DomainRestriction {
                conn: self.conn.clone(),
            }),
        ]
    }

    fn data_sources(&self) -> Vec<Arc<dyn DataSource>> {
        vec![Arc::new(CarveoutCheck {
            conn: self.conn.clone(),
        })]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(attrs: &[(&str, Value)]) -> Value {
        let names = [
            "url",
            "token",
            "insecure",
            "ca_cert_file",
            "outpost",
            "outpost_address",
            "timeout_seconds",
            "retries",
        ];
        Value::object(names.iter().map(|n| {
            let v = attrs
                .iter()
                .find(|(k, _)| k == n)
                .map(|(_, v)| v.clone())
                .unwrap_or(Value::Null);
            (n.to_string(), v)
        }))
    }

    #[test]
    fn schemas_pass_the_sdk_lint() {
        assert_eq!(
            tfplugin::grpc::check_schemas(&FwdAuthProvider::default()),
            Vec::<String>::new()
        );
    }

    #[test]
    fn configure_errors_name_the_cause_and_never_the_token() {
        let p = FwdAuthProvider::with_env([("X", "y")]);
        let d = p.configure(
            &Ctx::for_tests(),
            &cfg(&[("url", Value::from("http://a.test"))]),
        );
        assert!(d.0[0].detail.contains("AUTHENTIK_TOKEN"), "{:?}", d.0);
        let d = p.configure(
            &Ctx::for_tests(),
            &cfg(&[
                ("url", Value::from("http://a.test")),
                ("token", Value::from("tok-secret")),
                ("ca_cert_file", Value::from("/nonexistent/ca.pem")),
            ]),
        );
        assert!(
            d.0[0].summary.contains("ca_cert_file")
                && d.0[0].detail.contains("/nonexistent/ca.pem")
        );
        assert!(!format!("{:?}", d.0).contains("tok-secret"));
        // Env fallback for URL and token.
        let p = FwdAuthProvider::with_env([
            ("AUTHENTIK_URL", "http://a.test"),
            ("AUTHENTIK_TOKEN", "t"),
        ]);
        assert!(p.configure(&Ctx::for_tests(), &cfg(&[])).is_empty());
        assert_eq!(p.conn.get().unwrap().outpost, EMBEDDED_OUTPOST);
    }

    #[test]
    fn validate_config_checks_url_and_ranges() {
        let p = FwdAuthProvider::default();
        let config = cfg(&[
            ("url", Value::from("authentik.test")),
            ("retries", Value::from(99i64)),
        ]);
        // What ValidateProviderConfig runs: the schema's validators, then
        // the provider's own check.
        let mut d = tfplugin::validation::validate_config(&p.schema(), &config);
        d.extend(p.validate_config(&config));
        assert_eq!(d.0.len(), 2, "{:?}", d.0);
        let at: Vec<String> =
            d.0.iter()
                .map(|x| x.path.as_ref().unwrap().to_string())
                .collect();
        assert_eq!(at, ["url", "retries"]);
    }
}

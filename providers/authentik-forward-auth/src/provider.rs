//! Provider configuration (`fwdauth`): where Authentik is, the API token
//! (sensitive, `AUTHENTIK_TOKEN` fallback, never stored), TLS, the outpost to
//! attach to, timeouts and retries; and the shared handle plus the lookup
//! caches (flows, groups, users) every resource uses.

use std::collections::HashMap;

use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use tfplugin::env::Env;

use serde_json::Value as Json;
use tfplugin::diag::{Diagnostic, Diagnostics};
use tfplugin::provider::{Ctx, DataSource, Provider, Resource};
use tfplugin::schema::{Attribute, Schema};
use tfplugin::value::{AttrPath, Type, Value};

use crate::client::{Api, ApiError, Settings, enc};
use crate::{carveout, host, restriction};

/// The name Authentik gives its built-in outpost.
pub const EMBEDDED_OUTPOST: &str = "authentik Embedded Outpost";

/// A configured connection plus caches of objects looked up by name.
pub struct Conn {
    pub api: Api,
    pub outpost: String,
    /// Base URL Traefik should call for forward auth (default: `url`).
    pub outpost_address: String,
    pub settle: Duration,
    pub insecure: bool,
    /// slug → pk, refreshed on a miss.
    flows: Mutex<Option<HashMap<String, String>>>,
    /// name → pk.
    groups: Mutex<Option<HashMap<String, String>>>,
    /// Every account (pk, username, e-mail), refreshed on a miss.
    users: Mutex<Option<Vec<crate::accounts::Account>>>,
}

type Cache<K> = Mutex<Option<HashMap<String, K>>>;

impl Conn {
    fn cached<K: Clone>(
        &self,
        cache: &Cache<K>,
        key: &str,
        load: impl Fn(&Api) -> Result<HashMap<String, K>, ApiError>,
    ) -> Result<Option<K>, ApiError> {
        let mut guard = cache.lock().expect("cache lock");
        if let Some(v) = guard.as_ref().and_then(|m| m.get(key)) {
            return Ok(Some(v.clone()));
        }
        let fresh = load(&self.api)?;
        let hit = fresh.get(key).cloned();
        *guard = Some(fresh);
        Ok(hit)
    }

    fn reverse<K: Clone + PartialEq>(&self, cache: &Cache<K>, pk: &K) -> Option<String> {
        let guard = cache.lock().expect("cache lock");
        guard
            .as_ref()?
            .iter()
            .find(|(_, v)| *v == pk)
            .map(|(k, _)| k.clone())
    }

    /// Drops the caches so the next lookup reloads (after a miss by pk).
    fn forget(&self) {
        *self.flows.lock().expect("lock") = None;
        *self.groups.lock().expect("lock") = None;
        *self.users.lock().expect("lock") = None;
    }

    pub fn flow_pk(&self, slug: &str) -> Result<Option<String>, ApiError> {
        self.cached(&self.flows, slug, |api| {
            Ok(api
                .list("flows/instances/", "", "flow list")?
                .iter()
                .filter_map(|f| {
                    Some((
                        f["slug"].as_str()?.to_string(),
                        f["pk"].as_str()?.to_string(),
                    ))
                })
                .collect())
        })
    }

    pub fn group_pk(&self, name: &str) -> Result<Option<String>, ApiError> {
        self.cached(&self.groups, name, |api| {
            Ok(api
                .list("core/groups/", "", "group list")?
                .iter()
                .filter_map(|g| {
                    Some((
                        g["name"].as_str()?.to_string(),
                        g["pk"].as_str()?.to_string(),
                    ))
                })
                .collect())
        })
    }

    /// The accounts that answer to `entry` (username exactly, or e-mail
    /// ignoring case; see [`crate::accounts`]): one is the account meant,
    /// none is "not found", several are ambiguous (an address is neither
    /// unique nor verified in Authentik, and a username may be another
    /// user's address). The list is reloaded when nothing answers.
    pub fn accounts_named(&self, entry: &str) -> Result<Vec<crate::accounts::Account>, ApiError> {
        let mut guard = self.users.lock().expect("cache lock");
        if let Some(found) = guard
            .as_ref()
            .map(|all| crate::accounts::answering(all, entry))
            .filter(|f| !f.is_empty())
        {
            return Ok(found);
        }
        let fresh: Vec<crate::accounts::Account> = self
            .api
            .list("core/users/", "", "user list")?
            .iter()
            .filter_map(crate::accounts::Account::from_api)
            .collect();
        let found = crate::accounts::answering(&fresh, entry);
        *guard = Some(fresh);
        Ok(found)
    }

    /// Slug of flow `pk` (None when no such flow).
    pub fn flow_slug(&self, pk: &str) -> Result<Option<String>, ApiError> {
        if let Some(s) = self.reverse(&self.flows, &pk.to_string()) {
            return Ok(Some(s));
        }
        let found = self.api.list(
            "flows/instances/",
            &format!("flow_uuid={}", enc(pk)),
            &format!("flow {pk}"),
        )?;
        self.forget();
        Ok(found
            .first()
            .and_then(|f| f["slug"].as_str())
            .map(str::to_string))
    }

    pub fn group_name(&self, pk: &str) -> Result<Option<String>, ApiError> {
        if let Some(s) = self.reverse(&self.groups, &pk.to_string()) {
            return Ok(Some(s));
        }
        let g = self
            .api
            .get_opt(&format!("core/groups/{pk}/"), &format!("group {pk}"))?;
        self.forget();
        Ok(g.and_then(|g| g["name"].as_str().map(str::to_string)))
    }

    /// The username of user `pk`.
    pub fn user_name(&self, pk: i64) -> Result<Option<String>, ApiError> {
        let u = self
            .api
            .get_opt(&format!("core/users/{pk}/"), &format!("user {pk}"))?;
        Ok(u.and_then(|u| u["username"].as_str().map(str::to_string)))
    }
}

/// State shared between the provider and its resources.
#[derive(Default)]
pub struct Shared {
    conn: RwLock<Option<Arc<Conn>>>,
}

impl Shared {
    pub fn conn(&self) -> Result<Arc<Conn>, Diagnostics> {
        self.conn.read().ok().and_then(|g| g.clone()).ok_or_else(|| {
            Diagnostics::error(
                "fwdauth provider is not configured",
                "Terraform called the provider before ConfigureProvider succeeded; check the provider block for errors.",
            )
        })
    }
}

/// The `authentik-forward-auth` provider (local name `fwdauth`).
#[derive(Default)]
pub struct FwdAuthProvider {
    shared: Arc<Shared>,
    env: Env,
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

fn num(config: &Value, attr: &str) -> Option<i64> {
    config.get(attr).as_i64()
}

impl Provider for FwdAuthProvider {
    fn type_name(&self) -> &'static str {
        "fwdauth"
    }

    fn schema(&self) -> Schema {
        let s = |name: &str, md: &str| {
            Attribute::new(name, Type::String)
                .optional()
                .description(md)
        };
        Schema::new(vec![
            s("url", "Authentik base URL, e.g. `https://authentik.example.com`. Or `AUTHENTIK_URL`."),
            s("token", "API token (an Authentik service-account token with rights on providers, applications, outposts, policies). Or `AUTHENTIK_TOKEN` (preferred). Never stored in state.")
                .sensitive(),
            Attribute::new("insecure", Type::Bool)
                .optional()
                .description("Skip TLS certificate verification (lab use only). Or `AUTHENTIK_INSECURE=true`."),
            s("ca_cert_file", "Path of a PEM CA certificate to trust in addition to the system roots."),
            s("outpost", "Name of the outpost protected hosts attach to (default `authentik Embedded Outpost`)."),
            s("outpost_address", "Base URL Traefik uses to reach the outpost for forwardAuth (default: `url`). For the embedded outpost this is the Authentik server itself, e.g. `http://authentik-server.authentik.svc`."),
            Attribute::new("timeout_seconds", Type::Number)
                .optional()
                .description("Per-request timeout in seconds (default 30)."),
            Attribute::new("retries", Type::Number)
                .optional()
                .description("Retries of transient failures (connection errors, HTTP 502/503/504, 500 on idempotent requests), with exponential backoff from 200 ms, and of rate limits (HTTP 429, or 503 with `Retry-After`) after the wait Authentik asks for; at most 60 s of waiting per request (default 3)."),
        ])
        .description("Manages Authentik forward-auth protection of hosts behind Traefik: one resource per protected host (proxy provider, application, access bindings, outpost membership) and the domain-wide restriction policy.")
    }

    fn validate_config(&self, config: &Value) -> Diagnostics {
        let mut d = Diagnostics::default();
        if let Some(u) = config.get("url").as_str()
            && !(u.starts_with("http://") || u.starts_with("https://"))
        {
            d.push(
                Diagnostic::error(
                    "Invalid url",
                    format!("url {u:?} must start with http:// or https://"),
                )
                .at(AttrPath::root().attr("url")),
            );
        }
        for (attr, lo, hi) in [("timeout_seconds", 1, 3600), ("retries", 0, 10)] {
            if let Some(n) = num(config, attr)
                && !(lo..=hi).contains(&n)
            {
                d.push(
                    Diagnostic::error(
                        format!("Invalid {attr}"),
                        format!("{attr} must be between {lo} and {hi}, got {n}"),
                    )
                    .at(AttrPath::root().attr(attr)),
                );
            }
        }
        d
    }

    fn configure(&self, _ctx: &Ctx, config: &Value) -> Diagnostics {
        let url = config
            .get("url")
            .as_str()
            .map(str::to_string)
            .or_else(|| self.env.get("AUTHENTIK_URL"));
        let token = config
            .get("token")
            .as_str()
            .map(str::to_string)
            .or_else(|| self.env.get("AUTHENTIK_TOKEN"));
        let (Some(url), Some(token)) = (url, token) else {
            return Diagnostics::error(
                "Authentik URL or token missing",
                "Set `url` and `token` in the fwdauth provider block, or AUTHENTIK_URL and AUTHENTIK_TOKEN in the environment.",
            );
        };
        let insecure = config.get("insecure").as_bool().unwrap_or_else(|| {
            self.env
                .get("AUTHENTIK_INSECURE")
                .is_some_and(|v| v == "true")
        });
        let ca_pem = match config.get("ca_cert_file").as_str() {
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
            timeout: Duration::from_secs(num(config, "timeout_seconds").unwrap_or(30) as u64),
            retries: num(config, "retries").unwrap_or(3) as u32,
            backoff: Duration::from_millis(200),
        };
        let api = match Api::new(&settings) {
            Ok(a) => a,
            Err(e) => return Diagnostics::error("Invalid fwdauth TLS settings", e),
        };
        let conn = Conn {
            api,
            outpost: config
                .get("outpost")
                .as_str()
                .unwrap_or(EMBEDDED_OUTPOST)
                .to_string(),
            outpost_address: config
                .get("outpost_address")
                .as_str()
                .unwrap_or(&url)
                .trim_end_matches('/')
                .to_string(),
            settle: Duration::from_millis(60),
            insecure,
            flows: Mutex::default(),
            groups: Mutex::default(),
            users: Mutex::default(),
        };
        *self.shared.conn.write().expect("lock") = Some(Arc::new(conn));
        Diagnostics::default()
    }

    fn resources(&self) -> Vec<Arc<dyn Resource>> {
        vec![
            Arc::new(host::ProtectedHost {
                shared: self.shared.clone(),
            }),
            Arc::new(restriction::DomainRestriction {
                shared: self.shared.clone(),
            }),
        ]
    }

    fn data_sources(&self) -> Vec<Arc<dyn DataSource>> {
        vec![Arc::new(carveout::CarveoutCheck {
            shared: self.shared.clone(),
        })]
    }
}

/// An API error as a Terraform diagnostic.
pub fn api_diag(summary: &str, e: ApiError) -> Diagnostics {
    Diagnostics::error(summary, e.to_string())
}

/// A JSON string field, or "".
pub fn js(v: &Json, f: &str) -> String {
    v[f].as_str().unwrap_or_default().to_string()
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
        assert_eq!(p.shared.conn().unwrap().outpost, EMBEDDED_OUTPOST);
    }

    #[test]
    fn validate_config_checks_url_and_ranges() {
        let p = FwdAuthProvider::default();
        let d = p.validate_config(&cfg(&[
            ("url", Value::from("authentik.test")),
            ("retries", Value::from(99i64)),
        ]));
        assert_eq!(d.0.len(), 2, "{:?}", d.0);
    }
}

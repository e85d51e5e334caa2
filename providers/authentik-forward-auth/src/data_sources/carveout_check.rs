//! `fwdauth_carveout_check`: requests a public carve-out URL without following
//! redirects, as the seeds' walloff probe does (seeds/001 line 6473), and
//! fails when the answer redirects to Authentik (`Location` matching
//! `authentik\.<domain>|/outpost\.goauthentik\.io|/application/o/authorize`).
//! Meant for a `check` block, where the failure becomes a warning.

use std::sync::Arc;
use std::time::Duration;

use tfplugin::Configured;
use tfplugin::diag::Diagnostics;
use tfplugin::provider::{Ctx, DataSource};
use tfplugin::schema::{Attribute, Schema};
use tfplugin::validator::i64_in;
use tfplugin::value::{Type, Value};

use crate::connection::Conn;
use crate::validators::http_url;

pub struct CarveoutCheck {
    pub conn: Arc<Configured<Conn>>,
}

/// The walloff regex for `domain` (the part after `authentik.`).
pub fn walloff_pattern(domain: &str) -> String {
    format!(
        r"authentik\.{}|/outpost\.goauthentik\.io|/application/o/authorize",
        regex::escape(domain)
    )
}

/// The domain of `url`'s host without its first label (`a.example.com` → `example.com`).
fn parent_domain(url: &str) -> Option<String> {
    let host = url.split("://").nth(1)?.split(['/', ':', '?']).next()?;
    let (_, rest) = host.split_once('.')?;
    Some(rest.to_string())
}

impl DataSource for CarveoutCheck {
    fn type_name(&self) -> &'static str {
        "fwdauth_carveout_check"
    }

    fn schema(&self) -> Schema {
        Schema::new(vec![
            Attribute::new("url", Type::String)
                .required()
                .validate(http_url())
                .description("A representative GET-able URL of the carve-out."),
            Attribute::new("domain", Type::String).optional().computed().description(
                "Domain whose `authentik.<domain>` host counts as Authentik (default: the URL's host minus its first label).",
            ),
            Attribute::new("timeout_seconds", Type::Number)
                .optional()
                .validate(i64_in(1..=3600))
                .description("Request timeout (default 10)."),
            Attribute::new("status_code", Type::Number)
                .computed()
                .description("HTTP status of the response."),
            Attribute::new("location", Type::String)
                .computed()
                .description("The `Location` header (empty when none)."),
            Attribute::new("pattern", Type::String)
                .computed()
                .description("The regex the Location was tested against."),
            Attribute::new("public", Type::Bool)
                .computed()
                .description("True when the URL did not redirect to Authentik."),
        ])
        .description("Checks that a public carve-out is not walled off by forward auth: no redirects followed; fails when the response redirects to Authentik.")
    }

    fn read(&self, _ctx: &Ctx, config: &Value) -> Result<Value, Diagnostics> {
        let insecure = self.conn.get().map(|c| c.insecure).unwrap_or(false);
        let url = config.get("url").string().unwrap_or_default();
        let domain = match config.get("domain").string() {
            Some(d) => d,
            None => parent_domain(&url).ok_or_else(|| {
                Diagnostics::error(
                    "Cannot derive domain",
                    format!("{url:?} has no parent domain; set `domain`."),
                )
            })?,
        };
        let pattern = walloff_pattern(&domain);
        let re = regex::Regex::new(&pattern)
            .map_err(|e| Diagnostics::error("Bad domain", e.to_string()))?;
        let http = reqwest::blocking::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .danger_accept_invalid_certs(insecure)
            .timeout(Duration::from_secs(
                config.get("timeout_seconds").as_i64().unwrap_or(10) as u64,
            ))
            .build()
            .map_err(|e| Diagnostics::error("Cannot build HTTP client", e.to_string()))?;
        let resp = http.get(&url).send().map_err(|e| {
            Diagnostics::error(format!("Carve-out {url} unreachable"), e.to_string())
        })?;
        let status = i64::from(resp.status().as_u16());
        let location = resp
            .headers()
            .get("location")
            .and_then(|l| l.to_str().ok())
            .unwrap_or_default()
            .to_string();
        if re.is_match(&location) {
            return Err(Diagnostics::error(
                format!("Carve-out {url} is walled off by Authentik"),
                format!(
                    "GET {url} answered {status} with Location {location:?}, which matches {pattern:?}: forward auth now protects this public path. Check the host's skip_path_regex / the ingress `auth = \"none\"` carve-out."
                ),
            ));
        }
        Ok(Value::object([
            ("url", Value::from(url)),
            ("domain", Value::from(domain)),
            ("timeout_seconds", config.get("timeout_seconds").clone()),
            ("status_code", Value::from(status)),
            ("location", Value::from(location)),
            ("pattern", Value::from(pattern)),
            ("public", Value::from(true)),
        ]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pattern_matches_the_probe_cases() {
        let re = regex::Regex::new(&walloff_pattern("viktorbarzin.me")).unwrap();
        assert!(re.is_match("https://authentik.viktorbarzin.me/if/flow/login/"));
        assert!(re.is_match("https://app.viktorbarzin.me/outpost.goauthentik.io/start?rd=x"));
        assert!(re.is_match("/application/o/authorize/?client_id=x"));
        assert!(!re.is_match("https://short.viktorbarzin.me/target"));
        assert!(!re.is_match("https://authentikXviktorbarzin.me/"));
        assert_eq!(
            parent_domain("https://ntfy.example.com:8443/x").as_deref(),
            Some("example.com")
        );
    }
}

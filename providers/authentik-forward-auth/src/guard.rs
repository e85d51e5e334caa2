//! Which applications a restriction guards, read from Authentik, and the
//! checks that make its rules enforceable there:
//! - each guarded application has its own single-host proxy provider
//!   (`forward_single` or `proxy`). Authentik runs an application's policies
//!   once, at the OAuth2 authorize step (`authentik/policies/engine.py`), and
//!   in `forward_domain` mode one login covers every host under the cookie
//!   domain (`internal/outpost/proxyv2/application/mode_forward.go`); its docs
//!   say "Domain-level forward auth cannot enforce different application-level
//!   authorization rules for each protected application".
//! - its own bindings cannot admit around the restriction: with
//!   `policy_engine_mode = "any"` one passing binding admits
//!   (`PolicyEngine.result`), so another binding would bypass the rules.
//! - every rule matches at least one guarded application; a rule matching
//!   none enforces nothing, and when a `forward_domain` provider covers its
//!   host the error says why binding there cannot work and what to do.

use serde_json::Value as Json;
use tfplugin::diag::{Diagnostic, Diagnostics, Severity};
use tfplugin::value::AttrPath;

use crate::client::{api_diag, enc, js};
use crate::connection::Conn;
use crate::host_rules::{self, Rule};

/// What Authentik says the documented limitation is, quoted in errors.
pub const DOMAIN_LIMITATION: &str = "Authentik runs an application's policies once, when a user is authorized for it, and a forward_domain provider logs a user in once for every host under its cookie domain, so \"domain-level forward auth cannot enforce different application-level authorization rules for each protected application\" (Authentik proxy provider docs)";

/// One guarded application as it is in Authentik now.
#[derive(Clone, Debug)]
pub struct Guarded {
    pub slug: String,
    /// The application's pk (the binding target).
    pub pk: String,
    /// Host of the provider's `external_host` (see [`outpost_host`]).
    pub host: String,
}

fn at_apps() -> AttrPath {
    AttrPath::root().attr("applications")
}

/// What reading one guarded application found.
enum Read {
    Found(Guarded),
    /// No application with that slug (yet).
    Missing,
    /// Not guardable; the reason is in the diagnostics.
    Rejected,
}

/// The enabled bindings on application `app` other than those of policy
/// `policy_pk`.
fn other_bindings(
    conn: &Conn,
    app: &Json,
    slug: &str,
    policy_pk: &str,
) -> Result<Vec<Json>, Diagnostics> {
    Ok(conn
        .api
        .list(
            "policies/bindings/",
            &format!("target={}", enc(&js(app, "pk"))),
            &format!("bindings of application {slug:?}"),
        )
        .map_err(|e| api_diag("Cannot read a guarded application's bindings", e))?
        .into_iter()
        .filter(|b| b["enabled"] != Json::Bool(false) && b["policy"].as_str() != Some(policy_pk))
        .collect())
}

/// Application `slug` as Authentik has it now (None: no such slug).
fn application(conn: &Conn, slug: &str) -> Result<Option<Json>, Diagnostics> {
    conn.api.read(
        &format!("core/applications/{}/", enc(slug)),
        &format!("application {slug:?} (applications)"),
        "Cannot read a guarded application",
    )
}

/// Whether application `slug` admits around policy `policy_pk`: other
/// bindings in `policy_engine_mode = "any"` (one passing binding admits).
pub fn bypassed(conn: &Conn, slug: &str, policy_pk: &str) -> Result<bool, Diagnostics> {
    let Some(app) = application(conn, slug)? else {
        return Ok(false);
    };
    Ok(js(&app, "policy_engine_mode") != "all"
        && !other_bindings(conn, &app, slug, policy_pk)?.is_empty())
}

/// Reads application `slug` and checks it can be guarded.
fn read_one(
    conn: &Conn,
    slug: &str,
    policy_pk: &str,
    at_apply: bool,
    d: &mut Diagnostics,
) -> Result<Read, Diagnostics> {
    let Some(app) = application(conn, slug)? else {
        return Ok(Read::Missing);
    };
    let pk = js(&app, "pk");
    let Some(prov_pk) = app["provider"].as_i64() else {
        d.push(
            Diagnostic::error(
                format!("Application {slug:?} has no provider"),
                "A restriction guards applications served by their own proxy provider (a fwdauth_protected_host); this one has none, so no host reaches it.",
            )
            .at(at_apps()),
        );
        return Ok(Read::Rejected);
    };
    let Some(prov) = conn.api.read(
        &format!("providers/proxy/{prov_pk}/"),
        &format!("proxy provider {prov_pk} of application {slug:?}"),
        "Cannot read a guarded application's provider",
    )?
    else {
        d.push(
            Diagnostic::error(
                format!("Application {slug:?} is not served by a proxy provider"),
                "A restriction guards forward-auth hosts: list the slugs of fwdauth_protected_host resources.",
            )
            .at(at_apps()),
        );
        return Ok(Read::Rejected);
    };
    let errors = |d: &Diagnostics| d.0.iter().filter(|x| x.severity == Severity::Error).count();
    let errors_before = errors(d);
    if js(&prov, "mode") == "forward_domain" {
        d.push(
            Diagnostic::error(
                format!("Application {slug:?} is domain-level forward auth"),
                format!(
                    "Its provider {:?} is in forward_domain mode (cookie domain {:?}). {DOMAIN_LIMITATION}. Bound there, the rules would be checked once per login against that one application, never per host. Protect each restricted host with its own fwdauth_protected_host (mode = \"forward_single\", the default) and list those in applications; the forward_domain host's own allowed_users/allowed_groups decide who may log in at all.",
                    js(&prov, "name"),
                    js(&prov, "cookie_domain"),
                ),
            )
            .at(at_apps()),
        );
    }
    let others = other_bindings(conn, &app, slug, policy_pk)?;
    if js(&app, "policy_engine_mode") != "all" && !others.is_empty() {
        let summary = format!("Application {slug:?} admits around the restriction");
        let detail = format!(
            "It has {} other binding(s) (allowed_users/allowed_groups or other policies) and policy_engine_mode = \"any\", where one passing binding admits (Authentik's PolicyEngine): its members would get in whatever the rules say. Remove them from the fwdauth_protected_host (the rules decide), or set policy_engine_mode = \"all\" there so a user must pass them and the rules.",
            others.len()
        );
        // At plan time the host may be fixed in the same run (its update is
        // applied first): warn; the apply checks again and refuses.
        d.push(
            if at_apply {
                Diagnostic::error(summary, detail)
            } else {
                Diagnostic::warning(
                    summary,
                    format!("{detail} Unless this run changes that, the apply will fail."),
                )
            }
            .at(at_apps()),
        );
    }
    let external = js(&prov, "external_host");
    let Some(host) = outpost_host(&external) else {
        let detail = match host_rules::url_host(&external) {
            Some(h) => format!(
                "The outpost picks the application for a request by comparing the request's host with the host[:port] of each external_host, exactly (internal/outpost/proxyv2/handlers.go, lookupApp); browsers ask for {h:?}, which would not select this application (a forward_domain provider covering the host would serve it instead), so the rules bound here would not apply. Write external_host as \"https://{h}\"."
            ),
            None => "It is not an http(s) URL with a plain DNS host name: the outpost cannot route a browser's request to it, and the policy denies everyone there.".to_string(),
        };
        d.push(
            Diagnostic::error(
                format!("Application {slug:?} has external_host {external:?}"),
                detail,
            )
            .at(at_apps()),
        );
        return Ok(Read::Rejected);
    };
    if errors(d) > errors_before {
        return Ok(Read::Rejected);
    }
    Ok(Read::Found(Guarded {
        slug: slug.to_string(),
        pk,
        host,
    }))
}

/// The host the outpost serves `external_host` for, when browsers' requests
/// reach it: the URL's authority must be exactly a lower-case DNS name (no
/// port, no user info), as the outpost keys applications by the parsed
/// URL's `host[:port]` and compares the request's host to it as is
/// (`internal/outpost/proxyv2/refresh.go`, `handlers.go`).
pub fn outpost_host(external_host: &str) -> Option<String> {
    let host = host_rules::url_host(external_host)?;
    let (_, rest) = external_host.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    (authority == host).then_some(host)
}

/// Reads every guarded application and checks it and the rules. Returns the
/// applications, or None when some do not exist yet: at plan time that is a
/// host created in the same run. `must_exist` is the apply-time check (run
/// before anything is written): a missing application is then an error, and
/// so are own bindings that bypass the rules, which at plan time only warn
/// because the host's own update in the same run may remove them.
pub fn check(
    conn: &Conn,
    slugs: &[String],
    rules: &[Rule],
    default_allow: bool,
    policy_pk: &str,
    must_exist: bool,
) -> Result<(Option<Vec<Guarded>>, Diagnostics), Diagnostics> {
    let mut d = Diagnostics::default();
    let mut found = Vec::new();
    let mut missing = false;
    for slug in slugs {
        match read_one(conn, slug, policy_pk, must_exist, &mut d)? {
            Read::Found(g) => found.push(g),
            Read::Rejected => {}
            Read::Missing => {
                missing = true;
                d.push(
                    if must_exist {
                        Diagnostic::error(
                            format!("Application {slug:?} not found"),
                            "applications lists the slugs of fwdauth_protected_host resources; no application has this slug.",
                        )
                    } else {
                        Diagnostic::warning(
                            format!("Application {slug:?} is created in this run"),
                            "It is attached to the outpost before this restriction binds to it; in between, its own bindings alone decide (none: every user). The restriction checks it and binds at apply. To leave no such moment, give the host a gate of its own (allowed_groups with policy_engine_mode = \"all\") or create it in an earlier apply.",
                        )
                    }
                    .at(at_apps()),
                );
            }
        }
    }
    if missing || d.has_errors() {
        return Ok((None, d));
    }
    coverage(conn, &found, rules, default_allow, &mut d)?;
    Ok((Some(found), d))
}

/// Every rule must match a guarded application; guarded applications no rule
/// matches are reported (they admit only under `default_allow`).
fn coverage(
    conn: &Conn,
    found: &[Guarded],
    rules: &[Rule],
    default_allow: bool,
    d: &mut Diagnostics,
) -> Result<(), Diagnostics> {
    let mut domain_providers: Option<Vec<Json>> = None;
    for (i, r) in rules.iter().enumerate() {
        if found.iter().any(|g| host_rules::matches(&r.host, &g.host)) {
            continue;
        }
        let domains = match &domain_providers {
            Some(p) => p,
            None => domain_providers.insert(
                conn.api
                    .list(
                        "providers/proxy/",
                        // ProxyProviderViewSet filters `mode__iexact`; a
                        // bare `mode` would be ignored (all providers).
                        "mode__iexact=forward_domain",
                        "forward_domain providers",
                    )
                    .map_err(|e| api_diag("Cannot list proxy providers", e))?,
            ),
        };
        let covering: Vec<String> = domains
            .iter()
            .filter(|p| js(p, "mode") == "forward_domain")
            .filter(|p| domain_covers(&js(p, "cookie_domain"), &r.host))
            .map(|p| {
                format!(
                    "{:?} (cookie domain {:?})",
                    js(p, "name"),
                    js(p, "cookie_domain")
                )
            })
            .collect();
        let at = AttrPath::root().attr("rules").index(i as i64).attr("host");
        let detail = if covering.is_empty() {
            format!(
                "No application in applications has a host matching {:?}, so the rule is enforced nowhere. List the fwdauth_protected_host serving that host in applications, or remove the rule.",
                r.host
            )
        } else {
            format!(
                "Only domain-level forward auth serves {:?}: {}. {DOMAIN_LIMITATION}. Protect the host with its own fwdauth_protected_host (mode = \"forward_single\") and list its slug in applications.",
                r.host,
                covering.join(", ")
            )
        };
        d.push(
            Diagnostic::error(
                format!("Rule for {:?} guards no application", r.host),
                detail,
            )
            .at(at),
        );
    }
    for g in found {
        let h = &g.host;
        if !default_allow && host_rules::deciding_rule(rules, h).is_none() {
            d.push(
                Diagnostic::warning(
                    format!("Application {:?} denies everyone", g.slug),
                    format!("No rule matches its host {h:?} and default_allow is false."),
                )
                .at(at_apps()),
            );
        }
    }
    Ok(())
}

/// Whether a forward_domain provider with `cookie_domain` would serve hosts
/// the rule pattern names.
fn domain_covers(cookie_domain: &str, pattern: &str) -> bool {
    let cd = cookie_domain.trim_start_matches('.').to_ascii_lowercase();
    if cd.is_empty() {
        return false;
    }
    let host = pattern.trim_start_matches("*.");
    pattern.ends_with(".*") || host == cd || host.ends_with(&format!(".{cd}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_the_outpost_routes_to() {
        assert_eq!(
            outpost_host("https://chrome.example.com/vnc").as_deref(),
            Some("chrome.example.com")
        );
        for off in [
            "https://Chrome.example.com",
            "https://chrome.example.com:443",
            "https://user@chrome.example.com",
            "https://chrome.example.com@evil",
            "chrome.example.com",
        ] {
            assert_eq!(outpost_host(off), None, "{off}");
        }
    }

    #[test]
    fn which_rules_a_cookie_domain_serves() {
        assert!(domain_covers("example.com", "k8s.example.com"));
        assert!(domain_covers(".example.com", "*.lab.example.com"));
        assert!(domain_covers("example.com", "chrome.*"));
        assert!(!domain_covers("example.com", "k8s.example.org"));
        assert!(!domain_covers("example.com", "evilexample.com"));
        assert!(!domain_covers("", "k8s.example.com"));
    }
}

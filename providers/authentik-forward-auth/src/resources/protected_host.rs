//! `fwdauth_protected_host`: one host behind Authentik forward auth. Owns, as
//! one unit, the proxy provider, the application, the group/user access
//! bindings on the application, and the provider's membership in the outpost.
//! Import ID: the application slug (objects made by the goauthentik provider
//! are adopted as they are).

use std::collections::BTreeSet;
use std::sync::Arc;

use serde_json::{Value as Json, json};
use tfplugin::Configured;
use tfplugin::diag::{Diagnostic, Diagnostics};
use tfplugin::provider::{Ctx, MoveSource, PlanChange, Resource};
use tfplugin::schema::{Attribute, Schema};
use tfplugin::validator::{FnValidator, from_fn, one_of, regex};
use tfplugin::value::{AttrPath, Type, Value};

use crate::adopt::{self, Create};
use crate::client::{api_diag, enc, js};
use crate::connection::Conn;
use crate::outpost;
use crate::validators::{RegexLines, Trimmed, http_url, timedelta, url};

/// The headers the outpost returns to Traefik for the backend
/// (`authResponseHeaders`), as documented for Authentik's proxy outpost.
pub const AUTH_RESPONSE_HEADERS: &[&str] = &[
    "X-authentik-username",
    "X-authentik-groups",
    "X-authentik-entitlements",
    "X-authentik-email",
    "X-authentik-name",
    "X-authentik-uid",
    "X-authentik-jwt",
    "X-authentik-meta-jwks",
    "X-authentik-meta-outpost",
    "X-authentik-meta-provider",
    "X-authentik-meta-app",
    "X-authentik-meta-version",
];

const MODES: &[&str] = &["forward_single", "forward_domain"];

pub struct ProtectedHost {
    pub conn: Arc<Configured<Conn>>,
}

/// A host as planned or stored: the attributes the API calls are made from.
struct Host {
    slug: String,
    name: String,
    external_host: String,
    mode: String,
    cookie_domain: String,
    authorization_flow: String,
    invalidation_flow: String,
    access_token_validity: String,
    skip_path_regex: String,
    launch_url: String,
    group: String,
    policy_engine_mode: String,
    allowed_groups: BTreeSet<String>,
    allowed_users: BTreeSet<String>,
    outpost: String,
}

impl Host {
    fn read(v: &Value) -> Host {
        let text = |a: &str| v.get(a).string().unwrap_or_default();
        let set = |a: &str| v.get(a).strings().into_iter().collect();
        Host {
            slug: text("slug"),
            name: text("name"),
            external_host: text("external_host"),
            mode: text("mode"),
            cookie_domain: text("cookie_domain"),
            authorization_flow: text("authorization_flow"),
            invalidation_flow: text("invalidation_flow"),
            access_token_validity: text("access_token_validity"),
            skip_path_regex: text("skip_path_regex"),
            launch_url: text("launch_url"),
            group: text("group"),
            policy_engine_mode: text("policy_engine_mode"),
            allowed_groups: set("allowed_groups"),
            allowed_users: set("allowed_users"),
            outpost: text("outpost"),
        }
    }
}

/// Why `mode = "proxy"` is refused.
const PROXY_MODE: &str = "mode \"proxy\" makes Authentik the reverse proxy, which needs an internal_host this resource does not manage; use forward_single or forward_domain";

/// `mode`: the forward-auth modes; `proxy` is refused with the reason.
fn forward_mode() -> FnValidator {
    from_fn("forward_single or forward_domain", |v, _| {
        match v.as_str() {
            Some("proxy") => Err(PROXY_MODE.to_string()),
            Some(m) if !MODES.contains(&m) => Err(format!(
                "mode {m:?} must be forward_single or forward_domain"
            )),
            _ => Ok(()),
        }
    })
}

/// Why an empty `name` is refused.
const EMPTY_NAME: &str =
    "name may not be empty: Authentik requires a name for the application and the proxy provider.";

/// `name`: Authentik requires one for the application and the provider.
fn non_blank_name() -> FnValidator {
    from_fn("not empty", |v, _| {
        if v.as_str() == Some("") {
            return Err(EMPTY_NAME.to_string());
        }
        Ok(())
    })
}

fn forward_auth_address(conn: &Conn) -> String {
    format!(
        "{}/outpost.goauthentik.io/auth/traefik",
        conn.outpost_address
    )
}

/// The IDs looked up from names in the configuration.
struct Resolved {
    authorization_flow: String,
    invalidation_flow: String,
    groups: Vec<(String, String)>,
    users: Vec<(String, i64)>,
}

fn resolve(conn: &Conn, host: &Host) -> Result<Resolved, Diagnostics> {
    let slug = &host.slug;
    let mut d = Diagnostics::default();
    let mut flow = |attr: &str, want: &str| -> String {
        match conn.flow_pk(want) {
            Ok(Some(pk)) => pk,
            Ok(None) => {
                d.push(
                    Diagnostic::error(
                        format!("Flow {want:?} not found"),
                        format!("fwdauth_protected_host {slug:?}: {attr} {want:?} is not the slug of any flow in Authentik."),
                    )
                    .at(AttrPath::root().attr(attr)),
                );
                String::new()
            }
            Err(e) => {
                d.push(Diagnostic::error(
                    format!("Cannot look up {attr} of {slug:?}"),
                    e.to_string(),
                ));
                String::new()
            }
        }
    };
    let authorization_flow = flow("authorization_flow", &host.authorization_flow);
    let invalidation_flow = flow("invalidation_flow", &host.invalidation_flow);
    let mut groups = Vec::new();
    for g in &host.allowed_groups {
        match conn.group_pk(g) {
            Ok(Some(pk)) => groups.push((g.clone(), pk)),
            Ok(None) => d.push(
                Diagnostic::error(
                    format!("Group {g:?} not found"),
                    format!("fwdauth_protected_host {slug:?}: allowed_groups names {g:?}, which is not a group in Authentik."),
                )
                .at(AttrPath::root().attr("allowed_groups")),
            ),
            Err(e) => d.push(Diagnostic::error(format!("Cannot look up group {g:?}"), e.to_string())),
        }
    }
    let mut users = Vec::new();
    for u in &host.allowed_users {
        match conn.accounts_named(u).as_deref() {
            Ok([one]) => users.push((u.clone(), one.pk)),
            Ok([]) => d.push(
                Diagnostic::error(
                    format!("User {u:?} not found"),
                    format!("fwdauth_protected_host {slug:?}: allowed_users names {u:?}, which is neither a username nor an e-mail address in Authentik."),
                )
                .at(AttrPath::root().attr("allowed_users")),
            ),
            // Binding whichever account came last would hand the host to
            // an account that merely claims the address.
            Ok(many) => d.push(
                Diagnostic::error(
                    format!("User {u:?} is ambiguous"),
                    format!(
                        "fwdauth_protected_host {slug:?}: allowed_users names {u:?}, and {} Authentik accounts answer to it (username exactly, or e-mail address ignoring case): {}. Authentik keeps e-mail addresses neither unique nor verified, and a new account may take another user's address as its username, so the binding cannot tell which account is meant. List the intended account by its username, and remove the others if they are not legitimate.",
                        many.len(),
                        many.iter().map(|a| a.describe()).collect::<Vec<_>>().join(", ")
                    ),
                )
                .at(AttrPath::root().attr("allowed_users")),
            ),
            Err(e) => d.push(Diagnostic::error(format!("Cannot look up user {u:?}"), e.to_string())),
        }
    }
    if d.has_errors() {
        return Err(d);
    }
    Ok(Resolved {
        authorization_flow,
        invalidation_flow,
        groups,
        users,
    })
}

fn provider_body(host: &Host, r: &Resolved) -> Json {
    json!({
        "name": host.name,
        "authorization_flow": r.authorization_flow,
        "invalidation_flow": r.invalidation_flow,
        "external_host": host.external_host,
        "mode": host.mode,
        "cookie_domain": host.cookie_domain,
        "access_token_validity": host.access_token_validity,
        "skip_path_regex": host.skip_path_regex,
    })
}

fn application_body(host: &Host, provider_pk: i64) -> Json {
    json!({
        "name": host.name,
        "slug": host.slug,
        "provider": provider_pk,
        "meta_launch_url": host.launch_url,
        "group": host.group,
        "policy_engine_mode": host.policy_engine_mode,
    })
}

/// Every policy binding on the application (`policies/bindings/?target=`,
/// a filter of `PolicyBindingFilter`).
fn app_bindings(conn: &Conn, app_uuid: &str, slug: &str) -> Result<Vec<Json>, Diagnostics> {
    conn.api
        .list(
            "policies/bindings/",
            &format!("target={}", enc(app_uuid)),
            &format!("access bindings of application {slug:?}"),
        )
        .map_err(|e| api_diag("Cannot read access bindings", e))
}

/// Whether Authentik evaluates binding `b`: `PolicyEngine` iterates the
/// target's bindings with `enabled=True` only (`authentik/policies/engine.py`).
/// Anything but an explicit `false` counts as evaluated (fail closed).
fn evaluated(b: &Json) -> bool {
    b["enabled"] != Json::Bool(false)
}

/// Whether `b` is one of this resource's admissions: a group or user
/// binding Authentik evaluates and does not negate, so it passes exactly
/// for the group's members (and members of its descendants) or that user
/// (`PolicyBinding.passes`, `authentik/policies/models.py`; `negate`
/// inverts the result). Negated or disabled group/user bindings and policy
/// bindings are not ours: never read as admitted, never deleted.
fn admits(b: &Json) -> bool {
    (b["group"].is_string() || b["user"].is_i64())
        && b["policy"].is_null()
        && b["enabled"] == Json::Bool(true)
        && b["negate"] == Json::Bool(false)
}

/// Negated group/user bindings Authentik evaluates: one passes for every
/// user *outside* its group (or every user but its user).
fn negated(b: &Json) -> bool {
    (b["group"].is_string() || b["user"].is_i64()) && evaluated(b) && !admits(b)
}

/// Our bindings on the application (see [`admits`]).
fn current_bindings(conn: &Conn, app_uuid: &str, slug: &str) -> Result<Vec<Json>, Diagnostics> {
    Ok(app_bindings(conn, app_uuid, slug)?
        .into_iter()
        .filter(admits)
        .collect())
}

/// What a binding is, for diagnostics: `group <pk>`, `user <pk>`, `policy <pk>`.
fn describe(b: &Json) -> String {
    let what = if b["group"].is_string() {
        format!("group {}", js(b, "group"))
    } else if b["user"].is_i64() {
        format!("user {}", js(b, "user"))
    } else {
        format!("policy {}", js(b, "policy"))
    };
    format!("binding {} ({what})", js(b, "pk"))
}

/// Creates missing and deletes surplus bindings of ours ([`admits`]);
/// other bindings on the application are left as they are.
fn sync_bindings(conn: &Conn, app_uuid: &str, slug: &str, r: &Resolved) -> Result<(), Diagnostics> {
    let have = current_bindings(conn, app_uuid, slug)?;
    let want_groups: BTreeSet<&str> = r.groups.iter().map(|(_, pk)| pk.as_str()).collect();
    let want_users: BTreeSet<i64> = r.users.iter().map(|(_, pk)| *pk).collect();
    let mut seen_g = BTreeSet::new();
    let mut seen_u = BTreeSet::new();
    for b in &have {
        let keep = match (b["group"].as_str(), b["user"].as_i64()) {
            (Some(g), _) => want_groups.contains(g) && seen_g.insert(g.to_string()),
            (_, Some(u)) => want_users.contains(&u) && seen_u.insert(u),
            (None, None) => true,
        };
        if !keep {
            let pk = js(b, "pk");
            conn.api
                .delete(
                    &format!("policies/bindings/{pk}/"),
                    &format!("access binding {pk} of application {slug:?}"),
                )
                .map_err(|e| api_diag("Cannot remove access binding", e))?;
        }
    }
    let mut order = 0;
    for (name, pk) in &r.groups {
        order += 1;
        if !seen_g.contains(pk) {
            let body = json!({"group": pk, "target": app_uuid, "order": order, "enabled": true, "negate": false, "timeout": 30});
            adopt::create(
                &conn.api,
                &Create {
                    collection: "policies/bindings/",
                    body: &body,
                    what: &format!("binding of group {name:?} to application {slug:?}"),
                    summary: "Cannot bind group",
                    query: format!("target={}", enc(app_uuid)),
                    key: &["target", "group"],
                    import: format!(
                        "bindings are part of the fwdauth_protected_host: terraform import <its address> {slug}"
                    ),
                },
            )?;
        }
    }
    for (name, pk) in &r.users {
        order += 1;
        if !seen_u.contains(pk) {
            let body = json!({"user": pk, "target": app_uuid, "order": order, "enabled": true, "negate": false, "timeout": 30});
            adopt::create(
                &conn.api,
                &Create {
                    collection: "policies/bindings/",
                    body: &body,
                    what: &format!("binding of user {name:?} to application {slug:?}"),
                    summary: "Cannot bind user",
                    query: format!("target={}", enc(app_uuid)),
                    key: &["target", "user"],
                    import: format!(
                        "bindings are part of the fwdauth_protected_host: terraform import <its address> {slug}"
                    ),
                },
            )?;
        }
    }
    Ok(())
}

/// Whether the application's other bindings admit users the host's lists
/// do not name, in `policy_engine_mode = "any"` (one passing binding
/// admits, `PolicyEngine`): a policy binding next to own user/group
/// bindings (e.g. a `fwdauth_domain_restriction`, whose members would get
/// in around it, or anyone's other policy), or a negated group/user
/// binding (it passes for everyone outside its group) next to own bindings
/// or a policy. Checked at every plan of an existing host and again before
/// the apply writes, since such bindings can appear out of band. In
/// `"all"` mode they can only narrow access: a negated binding is then a
/// warning (the lists admit fewer users than they say).
fn bypass_check(conn: &Conn, app_uuid: &str, planned: &Host) -> Diagnostics {
    let slug = &planned.slug;
    if app_uuid.is_empty() {
        return Diagnostics::default();
    }
    let bindings = match app_bindings(conn, app_uuid, slug) {
        Ok(l) => l,
        Err(d) => return d,
    };
    let policies: Vec<&Json> = bindings
        .iter()
        .filter(|b| b["policy"].is_string() && evaluated(b))
        .collect();
    let negations: Vec<&Json> = bindings.iter().filter(|b| negated(b)).collect();
    let own = !planned.allowed_groups.is_empty() || !planned.allowed_users.is_empty();
    let listed = |bs: &[&Json]| {
        bs.iter()
            .map(|b| describe(b))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut d = Diagnostics::default();
    if planned.policy_engine_mode == "all" {
        if !negations.is_empty() {
            d.push(
                Diagnostic::warning(
                    format!("fwdauth_protected_host {slug:?} has negated bindings it does not manage"),
                    format!("In policy_engine_mode = \"all\" every binding must pass, so {} exclude(s) users that allowed_users/allowed_groups list. The host leaves them in place; remove them in Authentik if they are not meant.", listed(&negations)),
                )
                .at(AttrPath::root().attr("policy_engine_mode")),
            );
        }
        return d;
    }
    if own && !policies.is_empty() {
        d.push(
            Diagnostic::error(
                format!("fwdauth_protected_host {slug:?} would admit around its policy"),
                format!("The application has {} policy binding(s) ({}; e.g. a fwdauth_domain_restriction listing it in applications). With allowed_users/allowed_groups in policy_engine_mode = \"any\", one passing binding admits, so those users would get in whatever the policy says. Set policy_engine_mode = \"all\" (a user must pass both), drop allowed_users/allowed_groups, or first remove the host from the restriction's applications and apply.", policies.len(), listed(&policies)),
            )
            .at(AttrPath::root().attr("policy_engine_mode")),
        );
    }
    if !negations.is_empty() && (own || !policies.is_empty()) {
        d.push(
            Diagnostic::error(
                format!("fwdauth_protected_host {slug:?} admits users its lists do not name"),
                format!("The application has negated group/user binding(s) the host does not manage: {}. Authentik evaluates them, and in policy_engine_mode = \"any\" a negated binding admits every user outside its group (or every user but its user), around allowed_users/allowed_groups and any policy. Delete or disable them in Authentik, or set policy_engine_mode = \"all\".", listed(&negations)),
            )
            .at(AttrPath::root().attr("policy_engine_mode")),
        );
    }
    d
}

/// The application's UUID a state value records ("" when none yet).
fn application_uuid(v: &Value) -> String {
    v.get("application_uuid").string().unwrap_or_default()
}

fn attach(conn: &Conn, name: &str, pk: i64, want: bool) -> Result<(), Diagnostics> {
    outpost::set_membership(&conn.api, name, pk, want, conn.settle).map_err(|e| {
        Diagnostics::error(
            if want {
                "Cannot attach to outpost"
            } else {
                "Cannot detach from outpost"
            },
            e,
        )
    })
}

impl ProtectedHost {
    /// Reads everything back into a state value; None when the application
    /// or its provider is gone.
    fn read_state(&self, conn: &Conn, prior: &Value) -> Result<Option<Value>, Diagnostics> {
        let stored = Host::read(prior);
        let slug = stored.slug.clone();
        let Some(app) = conn.api.read(
            &format!("core/applications/{}/", enc(&slug)),
            &format!("application {slug:?}"),
            "Cannot read application",
        )?
        else {
            return Ok(None);
        };
        let Some(pk) = app["provider"]
            .as_i64()
            .or_else(|| prior.get("provider_pk").as_i64())
        else {
            return Ok(None);
        };
        let Some(prov) = conn.api.read(
            &format!("providers/proxy/{pk}/"),
            &format!("proxy provider {pk} of application {slug:?}"),
            "Cannot read proxy provider",
        )?
        else {
            return Ok(None);
        };
        let flow = |f: &str| -> Result<Value, Diagnostics> {
            let id = js(&prov, f);
            Ok(
                match conn
                    .flow_slug(&id)
                    .map_err(|e| api_diag("Cannot read flow", e))?
                {
                    Some(slug) => Value::from(slug),
                    None => Value::from(id),
                },
            )
        };
        let app_uuid = js(&app, "pk");
        let mut groups = Vec::new();
        let mut users = Vec::new();
        let prior_users = &stored.allowed_users;
        for b in current_bindings(conn, &app_uuid, &slug)? {
            if let Some(g) = b["group"].as_str() {
                let n = conn
                    .group_name(g)
                    .map_err(|e| api_diag("Cannot read group", e))?;
                groups.push(n.unwrap_or_else(|| g.to_string()));
            } else if let Some(u) = b["user"].as_i64() {
                // Keep the spelling the configuration used (username or e-mail).
                let spelled = prior_users
                    .iter()
                    .find(|p| matches!(conn.accounts_named(p).as_deref(), Ok([one]) if one.pk == u))
                    .cloned();
                let n = match spelled {
                    Some(n) => Some(n),
                    None => conn
                        .user_name(u)
                        .map_err(|e| api_diag("Cannot read user", e))?,
                };
                users.push(n.unwrap_or_else(|| u.to_string()));
            }
        }
        let outpost_name = prior
            .get("outpost")
            .as_str()
            .filter(|o| !o.is_empty())
            .unwrap_or(&conn.outpost)
            .to_string();
        let attached = outpost::is_member(&conn.api, &outpost_name, pk)
            .map_err(|e| api_diag("Cannot read outpost", e))?;
        // Prefer the application's name; a renamed provider shows as drift too.
        let name = if js(&app, "name") != stored.name {
            js(&app, "name")
        } else {
            js(&prov, "name")
        };
        let set_or_null = |items: Vec<String>, attr: &str| {
            if items.is_empty() && prior.get(attr).is_null() {
                Value::Null
            } else {
                Value::string_set(items)
            }
        };
        Ok(Some(Value::object([
            ("id", Value::from(slug.clone())),
            ("slug", Value::from(slug)),
            ("name", Value::from(name)),
            ("external_host", Value::from(js(&prov, "external_host"))),
            ("mode", Value::from(js(&prov, "mode"))),
            ("cookie_domain", Value::from(js(&prov, "cookie_domain"))),
            ("authorization_flow", flow("authorization_flow")?),
            ("invalidation_flow", flow("invalidation_flow")?),
            (
                "access_token_validity",
                Value::from(js(&prov, "access_token_validity")),
            ),
            ("skip_path_regex", Value::from(js(&prov, "skip_path_regex"))),
            ("launch_url", Value::from(js(&app, "meta_launch_url"))),
            ("group", Value::from(js(&app, "group"))),
            (
                "policy_engine_mode",
                Value::from(js(&app, "policy_engine_mode")),
            ),
            ("allowed_groups", set_or_null(groups, "allowed_groups")),
            ("allowed_users", set_or_null(users, "allowed_users")),
            (
                "outpost",
                Value::from(if attached {
                    outpost_name
                } else {
                    String::new()
                }),
            ),
            ("provider_pk", Value::from(pk)),
            ("application_uuid", Value::from(app_uuid)),
            (
                "forward_auth_address",
                Value::from(forward_auth_address(conn)),
            ),
            (
                "auth_response_headers",
                Value::string_list(AUTH_RESPONSE_HEADERS.iter().copied()),
            ),
        ])))
    }
}

impl Resource for ProtectedHost {
    fn type_name(&self) -> &'static str {
        "fwdauth_protected_host"
    }

    /// Attribute checks are validators: what Authentik's serializers refuse
    /// at apply (`ApplicationRequest.slug` pattern, non-blank `name`, the
    /// `timedelta_string_validator` of `access_token_validity`, its URL
    /// validator on `external_host`, white space DRF strips, a proxy mode
    /// needing `internal_host`) and what this resource does not do.
    fn schema(&self) -> Schema {
        let opt = |n: &str, default: &str, md: &str| {
            Attribute::new(n, Type::String)
                .optional()
                .computed()
                .default(Value::from(default))
                .description(md)
        };
        // Django's `validate_slug`, the pattern of `ApplicationRequest.slug`
        // in Authentik's OpenAPI document.
        let slug = regex::Regex::new("^[-a-zA-Z0-9_]+$").expect("slug pattern");
        Schema::new(vec![
            Attribute::new("id", Type::String).computed().use_state_for_unknown().description("The application slug."),
            Attribute::new("slug", Type::String)
                .required()
                .requires_replace()
                .validate(regex(slug, "letters, digits, '-' or '_' (Authentik's application slug), e.g. \"grafana\""))
                .description("Application slug (unique; used in Authentik URLs): letters, digits, `-` and `_` only (`^[-a-zA-Z0-9_]+$`). Changing it replaces the host."),
            Attribute::new("name", Type::String)
                .required()
                .validate(Trimmed)
                .validate(non_blank_name())
                .description("Display name of the application; also the proxy provider's name (unique in Authentik)."),
            Attribute::new("external_host", Type::String)
                .required()
                .validate(Trimmed)
                .validate(http_url())
                .validate(url::accepted_by_authentik())
                .description("Public URL of the host, e.g. `https://grafana.example.com`."),
            opt("mode", "forward_single", "`forward_single` (one host) or `forward_domain` (every host under `cookie_domain`); `proxy` is refused (it needs an `internal_host`).")
                .validate(forward_mode()),
            opt("cookie_domain", "", "Cookie domain; required for `forward_domain`, e.g. `example.com`.")
                .validate(Trimmed),
            opt("authorization_flow", "default-provider-authorization-implicit-consent", "Slug of the authorization flow."),
            opt("invalidation_flow", "default-provider-invalidation-flow", "Slug of the invalidation (logout) flow."),
            opt("access_token_validity", "hours=24", "Session/token validity in Authentik's `hours=24;minutes=30` form: `unit=number` pairs separated by `;` (weeks, days, hours, minutes, seconds, milliseconds, microseconds), checked at plan as Authentik parses it.")
                .validate(Trimmed)
                .validate(timedelta::authentik_duration()),
            opt("skip_path_regex", "", "Regular expressions (one per line) of paths that skip authentication: the public carve-outs.")
                .validate(Trimmed)
                .validate(RegexLines),
            opt("launch_url", "", "Application launch URL shown in the user library (`meta_launch_url`).")
                .validate(Trimmed),
            opt("group", "", "Application group (a label in the user library).")
                .validate(Trimmed),
            opt("policy_engine_mode", "any", "`any` (one passing binding admits) or `all`. In `any`, a policy binding or a negated group/user binding on the application next to own bindings fails the plan (it would admit around them).")
                .validate(one_of(&["any", "all"])),
            Attribute::new("allowed_groups", Type::set(Type::String))
                .optional()
                .description("Names of groups admitted (one enabled, non-negated binding each; other bindings on the application are not read as admissions and never deleted)."),
            Attribute::new("allowed_users", Type::set(Type::String))
                .optional()
                .description("Usernames or e-mail addresses of users admitted (one enabled, non-negated binding each)."),
            Attribute::new("outpost", Type::String).optional().computed().description(
                "Outpost the provider is attached to (default: the provider's `outpost`). Reads as empty when someone removed the provider from the outpost, so the next apply re-attaches it.",
            ),
            Attribute::new("provider_pk", Type::Number)
                .computed()
                .use_state_for_unknown()
                .description("Primary key of the proxy provider."),
            Attribute::new("application_uuid", Type::String)
                .computed()
                .use_state_for_unknown()
                .description("UUID of the application (the policy-binding target)."),
            Attribute::new("forward_auth_address", Type::String)
                .computed()
                .description("Address for Traefik's `forwardAuth.address`."),
            Attribute::new("auth_response_headers", Type::list(Type::String))
                .computed()
                .description("Headers for Traefik's `forwardAuth.authResponseHeaders`."),
        ])
        .description("One host protected by Authentik forward auth: proxy provider + application + access bindings + outpost membership, managed as one unit.")
    }

    /// `forward_domain` needs a `cookie_domain` (the only check across
    /// attributes; the others are the schema's validators).
    fn validate(&self, config: &Value) -> Diagnostics {
        let cd = config.get("cookie_domain");
        if config.get("mode").as_str() == Some("forward_domain")
            && !cd.is_unknown()
            && cd.as_str().is_none_or(str::is_empty)
        {
            return Diagnostic::error(
                "cookie_domain required",
                "mode = \"forward_domain\" needs cookie_domain (e.g. \"example.com\").",
            )
            .at(AttrPath::root().attr("cookie_domain"))
            .into();
        }
        Diagnostics::default()
    }

    /// Fills the outpost and the Traefik outputs, and checks at plan time that
    /// every flow, group and user named exists.
    fn modify_plan(&self, _ctx: &Ctx, plan: &mut PlanChange) -> Diagnostics {
        if plan.planned.is_null() {
            return Diagnostics::default();
        }
        let conn = match self.conn.get() {
            Ok(c) => c,
            Err(d) => return d,
        };
        let mut planned = plan.planned.clone();
        if plan.config.get("outpost").is_null() {
            planned = planned.with_attr("outpost", Value::from(conn.outpost.clone()));
        }
        planned = planned
            .with_attr(
                "forward_auth_address",
                Value::from(forward_auth_address(&conn)),
            )
            .with_attr(
                "auth_response_headers",
                Value::string_list(AUTH_RESPONSE_HEADERS.iter().copied()),
            );
        if plan.prior.is_none() {
            planned = planned.with_attr("id", plan.config.get("slug").clone());
        }
        plan.planned = planned;
        let host = Host::read(&plan.planned);
        if plan.config.is_fully_known()
            && let Err(d) = resolve(&conn, &host)
        {
            return d;
        }
        match plan.prior.as_ref() {
            Some(prior) => bypass_check(&conn, &application_uuid(prior), &host),
            None => Diagnostics::default(),
        }
    }

    fn create(&self, _ctx: &Ctx, planned: &Value, _config: &Value) -> Result<Value, Diagnostics> {
        let conn = self.conn.get()?;
        let host = Host::read(planned);
        let r = resolve(&conn, &host)?;
        let (slug, name) = (&host.slug, &host.name);
        let import = format!(
            "terraform import <address of this fwdauth_protected_host> {slug} (the import ID is the application slug; a proxy provider no application uses cannot be imported: delete it in Authentik)"
        );
        let prov = adopt::create(
            &conn.api,
            &Create {
                collection: "providers/proxy/",
                body: &provider_body(&host, &r),
                what: &format!("proxy provider {name:?}"),
                summary: "Cannot create proxy provider",
                query: format!("name__iexact={}", enc(name)),
                key: &["name"],
                import: import.clone(),
            },
        )?;
        let pk = prov["pk"].as_i64().unwrap_or_default();
        // Undo what was made if a later step fails, so nothing is left orphaned.
        let rollback = |d: Diagnostics, app: bool| -> Diagnostics {
            if app {
                conn.api
                    .delete(&format!("core/applications/{}/", enc(slug)), "rollback")
                    .ok();
            }
            conn.api
                .delete(&format!("providers/proxy/{pk}/"), "rollback")
                .ok();
            d
        };
        let app = adopt::create(
            &conn.api,
            &Create {
                collection: "core/applications/",
                body: &application_body(&host, pk),
                what: &format!("application {slug:?}"),
                summary: "Cannot create application",
                query: format!("slug={}", enc(slug)),
                key: &["slug"],
                import,
            },
        )
        .map_err(|d| rollback(d, false))?;
        let app_uuid = js(&app, "pk");
        sync_bindings(&conn, &app_uuid, slug, &r).map_err(|d| rollback(d, true))?;
        attach(&conn, &host.outpost, pk, true).map_err(|d| rollback(d, true))?;
        Ok(planned
            .clone()
            .with_attr("id", Value::from(slug.as_str()))
            .with_attr("provider_pk", Value::from(pk))
            .with_attr("application_uuid", Value::from(app_uuid)))
    }

    fn read(&self, _ctx: &Ctx, state: &Value) -> Result<Option<Value>, Diagnostics> {
        let conn = self.conn.get()?;
        self.read_state(&conn, state)
    }

    fn update(
        &self,
        _ctx: &Ctx,
        prior: &Value,
        planned: &Value,
        _config: &Value,
    ) -> Result<Value, Diagnostics> {
        let conn = self.conn.get()?;
        let host = Host::read(planned);
        let r = resolve(&conn, &host)?;
        let slug = &host.slug;
        let pk = prior.get("provider_pk").as_i64().unwrap_or_default();
        // Bindings made since the plan: refuse before writing anything.
        let bypass = bypass_check(&conn, &application_uuid(prior), &host);
        if bypass.has_errors() {
            return Err(bypass);
        }
        conn.api
            .patch(
                &format!("providers/proxy/{pk}/"),
                &provider_body(&host, &r),
                &format!("proxy provider {pk} of {slug:?}"),
            )
            .map_err(|e| api_diag("Cannot update proxy provider", e))?;
        let app = conn
            .api
            .patch(
                &format!("core/applications/{}/", enc(slug)),
                &application_body(&host, pk),
                &format!("application {slug:?}"),
            )
            .map_err(|e| api_diag("Cannot update application", e))?;
        let app_uuid = js(&app, "pk");
        sync_bindings(&conn, &app_uuid, slug, &r)?;
        let old = Host::read(prior).outpost;
        if !old.is_empty() && old != host.outpost {
            attach(&conn, &old, pk, false)?;
        }
        attach(&conn, &host.outpost, pk, true)?;
        Ok(planned
            .clone()
            .with_attr("application_uuid", Value::from(app_uuid)))
    }

    fn delete(&self, _ctx: &Ctx, prior: &Value) -> Result<(), Diagnostics> {
        let conn = self.conn.get()?;
        let stored = Host::read(prior);
        let (slug, outpost_name) = (&stored.slug, &stored.outpost);
        let pk = prior.get("provider_pk").as_i64().unwrap_or_default();
        if !outpost_name.is_empty() {
            match outpost::find(&conn.api, outpost_name) {
                Ok(_) => attach(&conn, outpost_name, pk, false)?,
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(api_diag("Cannot read outpost", e)),
            }
        }
        conn.api
            .delete(
                &format!("core/applications/{}/", enc(slug)),
                &format!("application {slug:?}"),
            )
            .map_err(|e| api_diag("Cannot delete application", e))?;
        conn.api
            .delete(
                &format!("providers/proxy/{pk}/"),
                &format!("proxy provider {pk} of {slug:?}"),
            )
            .map_err(|e| api_diag("Cannot delete proxy provider", e))
    }

    /// `moved` from goauthentik's `authentik_application` (see [`moved_from`]).
    fn move_state(&self, _ctx: &Ctx, source: &MoveSource<'_>) -> Result<Value, Diagnostics> {
        moved_from(source)
    }

    /// Import ID: the application slug.
    fn import(&self, _ctx: &Ctx, id: &str) -> Result<Value, Diagnostics> {
        let conn = self.conn.get()?;
        let v = Value::object([("slug", Value::from(id)), ("name", Value::from(""))]);
        match self.read_state(&conn, &v)? {
            Some(state) => Ok(state),
            None => Err(Diagnostics::error(
                "Cannot import protected host",
                format!(
                    "No application with slug {id:?} and a proxy provider exists in Authentik. The import ID is the application slug."
                ),
            )),
        }
    }
}

/// The goauthentik provider (`goauthentik/authentik` on any registry host).
const GOAUTHENTIK: &str = "goauthentik/authentik";

/// Takes over the state of a goauthentik `authentik_application` (schema
/// version 0: that provider declares none) with a `moved` block. Terraform
/// calls this on an unconfigured provider, so no API call: the slug and the
/// provider's primary key it holds are what `read` needs to find the
/// application, its proxy provider, bindings and outpost membership, and
/// the refresh that follows the move reads all of those. Attribute names
/// are goauthentik's (`slug`, `name`, `protocol_provider`, `uuid`; its
/// `docs/resources/application.md`). The host's other goauthentik
/// resources (proxy provider, outpost attachment, policy bindings) cannot
/// also move here (one `moved` per target): they are dropped from state
/// with `removed { lifecycle { destroy = false } }` and adopted by the read.
pub fn moved_from(source: &MoveSource<'_>) -> Result<Value, Diagnostics> {
    let refuse = |detail: String| {
        Err(Diagnostics::error(
            "Cannot move to fwdauth_protected_host",
            detail,
        ))
    };
    let from_goauthentik = source
        .provider
        .split_once('/')
        .is_some_and(|(_host, rest)| rest == GOAUTHENTIK);
    if !from_goauthentik {
        return refuse(format!(
            "fwdauth_protected_host takes over goauthentik's authentik_application only, not {} of {}.",
            source.type_name, source.provider
        ));
    }
    match source.type_name {
        "authentik_application" => {}
        "authentik_provider_proxy"
        | "authentik_outpost_provider_attachment"
        | "authentik_policy_binding" => {
            return refuse(format!(
                "move the host's authentik_application onto fwdauth_protected_host, and drop this {} from state with a `removed` block (lifecycle {{ destroy = false }}): Terraform allows one `moved` into an address, and the host adopts the object on its first read.",
                source.type_name
            ));
        }
        other => {
            return refuse(format!(
                "{other} is not part of a forward-auth host; only authentik_application moves here."
            ));
        }
    }
    if source.schema_version != 0 {
        return refuse(format!(
            "authentik_application state has schema version {}; this provider knows version 0 (goauthentik declares no other). Refresh it with a goauthentik release that writes version 0, or import the host by its slug.",
            source.schema_version
        ));
    }
    let slug = source.state["slug"].as_str().unwrap_or_default();
    if slug.is_empty() {
        return refuse("the authentik_application state has no slug.".into());
    }
    let Some(provider_pk) = source.state["protocol_provider"]
        .as_i64()
        .filter(|pk| *pk > 0)
    else {
        return refuse(format!(
            "application {slug:?} has no protocol_provider in state: a fwdauth_protected_host is an application with its proxy provider."
        ));
    };
    let text = |a: &str| Value::from(source.state[a].as_str().unwrap_or_default());
    Ok(Value::object([
        ("id", Value::from(slug)),
        ("slug", Value::from(slug)),
        ("name", text("name")),
        ("provider_pk", Value::from(provider_pk)),
        ("application_uuid", text("uuid")),
    ]))
}

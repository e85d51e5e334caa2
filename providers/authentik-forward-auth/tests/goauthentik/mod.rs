//! A stand-in for the goauthentik provider (`goauthentik/authentik`), built
//! on our SDK, for the `moved` migration test: this machine has no network,
//! so the real provider cannot be downloaded, and Terraform needs the source
//! provider of every resource it holds in state.
//!
//! It exposes the four resource types a forward-auth host is made of in a
//! goauthentik stack, with goauthentik's attribute names, types, defaults
//! and IDs (its `docs/resources/{provider_proxy,application,
//! outpost_provider_attachment,policy_binding}.md` and `pkg/provider/
//! resource_*.go`: a proxy provider's ID is its numeric pk, an
//! application's its slug, a binding's its UUID, an attachment's
//! `outpost:provider`; none declares a schema version). Create, update
//! and delete go to Authentik's API as goauthentik's do; read only checks
//! that the object still exists (it never reports drift). Attributes the
//! emulated API does not take (icons, `meta_hide`, basic-auth attribute
//! names) are in the schema but not sent.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use authentik_forward_auth::client::{Api, Settings, enc};
use serde_json::{Map, Value as Json};
use tfplugin::diag::Diagnostics;
use tfplugin::provider::{Ctx, DataSource, Provider, Resource};
use tfplugin::schema::{Attribute, Schema};
use tfplugin::value::{Type, Value, to_json};

pub const SOURCE: &str = "registry.terraform.io/goauthentik/authentik";

#[derive(Clone, Default)]
pub struct GoAuthentik {
    api: Arc<OnceLock<Api>>,
}

impl Provider for GoAuthentik {
    fn type_name(&self) -> &'static str {
        "authentik"
    }
    fn schema(&self) -> Schema {
        Schema::new(vec![
            Attribute::new("url", Type::String).required(),
            Attribute::new("token", Type::String).required().sensitive(),
            Attribute::new("insecure", Type::Bool).optional(),
        ])
    }
    fn configure(&self, _ctx: &Ctx, config: &Value) -> Diagnostics {
        let s = |a: &str| config.get(a).as_str().unwrap_or_default().to_string();
        match Api::new(&Settings {
            url: s("url"),
            token: s("token"),
            insecure: config.get("insecure").as_bool().unwrap_or(false),
            ca_pem: None,
            timeout: Duration::from_secs(10),
            retries: 0,
            backoff: Duration::ZERO,
        }) {
            Ok(api) => {
                // Terraform may configure twice; the first client stays.
                let _ = self.api.set(api);
                Diagnostics::default()
            }
            Err(e) => Diagnostics::error("Cannot configure goauthentik stand-in", e),
        }
    }
    fn resources(&self) -> Vec<Arc<dyn Resource>> {
        [
            Kind::ProxyProvider,
            Kind::Application,
            Kind::OutpostAttachment,
            Kind::PolicyBinding,
        ]
        .into_iter()
        .map(|kind| {
            Arc::new(GoResource {
                kind,
                api: self.api.clone(),
            }) as Arc<dyn Resource>
        })
        .collect()
    }
    fn data_sources(&self) -> Vec<Arc<dyn DataSource>> {
        Vec::new()
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    ProxyProvider,
    Application,
    OutpostAttachment,
    PolicyBinding,
}

struct GoResource {
    kind: Kind,
    api: Arc<OnceLock<Api>>,
}

fn opt(name: &str, ty: Type) -> Attribute {
    Attribute::new(name, ty).optional()
}

fn default(name: &str, v: Value) -> Attribute {
    Attribute::new(
        name,
        match &v {
            Value::Bool(_) => Type::Bool,
            Value::Number(_) => Type::Number,
            _ => Type::String,
        },
    )
    .optional()
    .computed()
    .default(v)
}

fn id() -> Attribute {
    Attribute::new("id", Type::String)
        .computed()
        .use_state_for_unknown()
}

fn diag(what: &str, e: impl std::fmt::Display) -> Diagnostics {
    Diagnostics::error(format!("goauthentik stand-in: {what}"), e.to_string())
}

impl GoResource {
    fn api(&self) -> Result<&Api, Diagnostics> {
        self.api
            .get()
            .ok_or_else(|| diag("not configured", "the provider block was not applied"))
    }

    /// (collection path, the Terraform attributes sent, each with its API field name).
    fn api_fields(&self) -> (&'static str, &'static [(&'static str, &'static str)]) {
        match self.kind {
            Kind::ProxyProvider => (
                "providers/proxy/",
                &[
                    ("name", "name"),
                    ("authentication_flow", "authentication_flow"),
                    ("authorization_flow", "authorization_flow"),
                    ("invalidation_flow", "invalidation_flow"),
                    ("internal_host", "internal_host"),
                    ("external_host", "external_host"),
                    (
                        "internal_host_ssl_validation",
                        "internal_host_ssl_validation",
                    ),
                    ("property_mappings", "property_mappings"),
                    ("skip_path_regex", "skip_path_regex"),
                    ("intercept_header_auth", "intercept_header_auth"),
                    ("basic_auth_enabled", "basic_auth_enabled"),
                    ("mode", "mode"),
                    ("cookie_domain", "cookie_domain"),
                    ("access_token_validity", "access_token_validity"),
                    ("refresh_token_validity", "refresh_token_validity"),
                    ("jwt_federation_sources", "jwt_federation_sources"),
                    ("jwt_federation_providers", "jwt_federation_providers"),
                ],
            ),
            Kind::Application => (
                "core/applications/",
                &[
                    ("name", "name"),
                    ("slug", "slug"),
                    ("group", "group"),
                    ("protocol_provider", "provider"),
                    ("backchannel_providers", "backchannel_providers"),
                    ("meta_launch_url", "meta_launch_url"),
                    ("meta_description", "meta_description"),
                    ("meta_publisher", "meta_publisher"),
                    ("policy_engine_mode", "policy_engine_mode"),
                    ("open_in_new_tab", "open_in_new_tab"),
                ],
            ),
            Kind::PolicyBinding => (
                "policies/bindings/",
                &[
                    ("target", "target"),
                    ("policy", "policy"),
                    ("user", "user"),
                    ("group", "group"),
                    ("order", "order"),
                    ("negate", "negate"),
                    ("enabled", "enabled"),
                    ("timeout", "timeout"),
                    ("failure_result", "failure_result"),
                ],
            ),
            Kind::OutpostAttachment => ("outposts/instances/", &[]),
        }
    }

    fn body(&self, v: &Value) -> Result<Json, Diagnostics> {
        let mut m = Map::new();
        for (attr, field) in self.api_fields().1 {
            let a = v.get(attr);
            if !a.is_null() {
                m.insert(field.to_string(), to_json(a).map_err(|e| diag("value", e))?);
            }
        }
        Ok(Json::Object(m))
    }

    /// The object's API path from its ID.
    fn object_path(&self, id: &str) -> String {
        format!("{}{}/", self.api_fields().0, enc(id))
    }

    /// Adds or removes the provider in the outpost's `providers` list.
    fn attach(&self, v: &Value, on: bool) -> Result<(), Diagnostics> {
        let api = self.api()?;
        let outpost = v.get("outpost").as_str().unwrap_or_default();
        let pk = v.get("protocol_provider").as_i64().unwrap_or_default();
        let path = self.object_path(outpost);
        let op = api.get(&path, "outpost").map_err(|e| diag("outpost", e))?;
        let mut providers: Vec<i64> = op["providers"]
            .as_array()
            .map(|a| a.iter().filter_map(Json::as_i64).collect())
            .unwrap_or_default();
        providers.retain(|p| *p != pk);
        if on {
            providers.push(pk);
        }
        api.patch(
            &path,
            &serde_json::json!({ "providers": providers }),
            "outpost",
        )
        .map(drop)
        .map_err(|e| diag("outpost", e))
    }
}

impl Resource for GoResource {
    fn type_name(&self) -> &'static str {
        match self.kind {
            Kind::ProxyProvider => "authentik_provider_proxy",
            Kind::Application => "authentik_application",
            Kind::OutpostAttachment => "authentik_outpost_provider_attachment",
            Kind::PolicyBinding => "authentik_policy_binding",
        }
    }

    fn schema(&self) -> Schema {
        let s = Type::String;
        let strings = || Type::list(Type::String);
        let numbers = || Type::list(Type::Number);
        Schema::new(match self.kind {
            Kind::ProxyProvider => vec![
                id(),
                Attribute::new("name", s.clone()).required(),
                Attribute::new("authorization_flow", s.clone()).required(),
                Attribute::new("invalidation_flow", s.clone()).required(),
                Attribute::new("external_host", s.clone()).required(),
                Attribute::new("client_id", s.clone()).computed(),
                opt("authentication_flow", s.clone()),
                opt("internal_host", s.clone()),
                default("internal_host_ssl_validation", Value::from(true)),
                opt("property_mappings", strings()),
                opt("skip_path_regex", s.clone()),
                default("intercept_header_auth", Value::from(true)),
                default("basic_auth_enabled", Value::from(false)),
                opt("basic_auth_username_attribute", s.clone()),
                opt("basic_auth_password_attribute", s.clone()),
                default("mode", Value::from("proxy")),
                opt("cookie_domain", s.clone()),
                default("access_token_validity", Value::from("minutes=10")),
                default("refresh_token_validity", Value::from("days=30")),
                opt("jwks_sources", strings()),
                opt("jwt_federation_sources", strings()),
                opt("jwt_federation_providers", numbers()),
            ],
            Kind::Application => vec![
                id(),
                Attribute::new("name", s.clone()).required(),
                Attribute::new("slug", s.clone()).required(),
                Attribute::new("uuid", s.clone()).optional().computed(),
                opt("group", s.clone()),
                opt("protocol_provider", Type::Number),
                opt("backchannel_providers", numbers()),
                opt("meta_launch_url", s.clone()),
                opt("meta_icon", s.clone()),
                opt("meta_description", s.clone()),
                opt("meta_publisher", s.clone()),
                default("policy_engine_mode", Value::from("any")),
                default("open_in_new_tab", Value::from(false)),
                default("meta_hide", Value::from(false)),
            ],
            Kind::OutpostAttachment => vec![
                id(),
                Attribute::new("outpost", s.clone())
                    .required()
                    .requires_replace(),
                Attribute::new("protocol_provider", Type::Number)
                    .required()
                    .requires_replace(),
            ],
            Kind::PolicyBinding => vec![
                id(),
                Attribute::new("target", s.clone()).required(),
                Attribute::new("order", Type::Number).required(),
                opt("policy", s.clone()),
                opt("user", Type::Number),
                opt("group", s.clone()),
                default("negate", Value::from(false)),
                default("enabled", Value::from(true)),
                default("timeout", Value::from(30)),
                default("failure_result", Value::from(false)),
            ],
        })
    }

    fn create(&self, _ctx: &Ctx, planned: &Value, _config: &Value) -> Result<Value, Diagnostics> {
        let api = self.api()?;
        let v = planned.clone();
        Ok(match self.kind {
            Kind::OutpostAttachment => {
                self.attach(&v, true)?;
                let id = format!(
                    "{}:{}",
                    v.get("outpost").as_str().unwrap_or_default(),
                    v.get("protocol_provider").as_i64().unwrap_or_default()
                );
                v.with_attr("id", Value::from(id))
            }
            kind => {
                let made = api
                    .post(self.api_fields().0, &self.body(&v)?, self.type_name())
                    .map_err(|e| diag("create", e))?;
                match kind {
                    Kind::ProxyProvider => v
                        .with_attr("id", Value::from(made["pk"].to_string()))
                        .with_attr(
                            "client_id",
                            Value::from(made["client_id"].as_str().unwrap_or_default()),
                        ),
                    Kind::Application => {
                        let slug = made["slug"].as_str().unwrap_or_default().to_string();
                        v.with_attr("id", Value::from(slug))
                            .with_attr("uuid", Value::from(made["pk"].as_str().unwrap_or_default()))
                    }
                    _ => v.with_attr("id", Value::from(made["pk"].as_str().unwrap_or_default())),
                }
            }
        })
    }

    fn read(&self, _ctx: &Ctx, state: &Value) -> Result<Option<Value>, Diagnostics> {
        let api = self.api()?;
        let found = match self.kind {
            Kind::OutpostAttachment => {
                let outpost = state.get("outpost").as_str().unwrap_or_default();
                let pk = state.get("protocol_provider").as_i64();
                api.get_opt(&self.object_path(outpost), "outpost")
                    .map_err(|e| diag("read", e))?
                    .is_some_and(|op| {
                        op["providers"]
                            .as_array()
                            .is_some_and(|a| a.iter().any(|p| p.as_i64() == pk))
                    })
            }
            _ => {
                let id = state.get("id").as_str().unwrap_or_default();
                api.get_opt(&self.object_path(id), self.type_name())
                    .map_err(|e| diag("read", e))?
                    .is_some()
            }
        };
        Ok(found.then(|| state.clone()))
    }

    fn update(
        &self,
        _ctx: &Ctx,
        prior: &Value,
        planned: &Value,
        _config: &Value,
    ) -> Result<Value, Diagnostics> {
        if self.kind == Kind::OutpostAttachment {
            // Both attributes force replacement: Terraform never updates one.
            return Err(diag("update", "an attachment is replaced, never updated"));
        }
        let id = prior.get("id").as_str().unwrap_or_default();
        self.api()?
            .patch(
                &self.object_path(id),
                &self.body(planned)?,
                self.type_name(),
            )
            .map_err(|e| diag("update", e))?;
        Ok(planned.clone())
    }

    fn delete(&self, _ctx: &Ctx, prior: &Value) -> Result<(), Diagnostics> {
        if self.kind == Kind::OutpostAttachment {
            return self.attach(prior, false);
        }
        let id = prior.get("id").as_str().unwrap_or_default();
        self.api()?
            .delete(&self.object_path(id), self.type_name())
            .map_err(|e| diag("delete", e))
    }
}

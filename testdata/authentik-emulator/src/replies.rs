//! What a retrieve, list, create or update answers for each object: every
//! field the OpenAPI document marks required in the reply components
//! (`ProxyProvider`, `Application`, `Outpost`, `PolicyBinding`,
//! `ExpressionPolicy`, `Group`, `User`, `Flow` and the nested `Provider`,
//! `Policy`, `PartialGroup`, `PartialUser`, `RelatedGroup`), with the values
//! the serializers compute (each cited where it is built).

use serde_json::{Map, Value, json};

use crate::store::Store;

/// `verbose_name`, `verbose_name_plural`, `meta_model_name` and `component`
/// of the models the emulator serves (Django `Meta.verbose_name`, the
/// `app_label.model_name` of `MetaNameSerializer`, the `component`
/// property of the model).
pub struct Meta {
    pub verbose_name: &'static str,
    pub verbose_name_plural: &'static str,
    pub meta_model_name: &'static str,
    pub component: &'static str,
}

/// `authentik/providers/proxy/models.py` `ProxyProvider`.
pub const PROXY_PROVIDER_META: Meta = Meta {
    verbose_name: "Proxy Provider",
    verbose_name_plural: "Proxy Providers",
    meta_model_name: "authentik_providers_proxy.proxyprovider",
    component: "ak-provider-proxy-form",
};

/// `authentik/policies/expression/models.py` `ExpressionPolicy`.
pub const EXPRESSION_POLICY_META: Meta = Meta {
    verbose_name: "Expression Policy",
    verbose_name_plural: "Expression Policies",
    meta_model_name: "authentik_policies_expression.expressionpolicy",
    component: "ak-policy-expression-form",
};

fn with_meta(m: &mut Map<String, Value>, meta: &Meta) {
    m.insert("component".into(), json!(meta.component));
    m.insert("verbose_name".into(), json!(meta.verbose_name));
    m.insert(
        "verbose_name_plural".into(),
        json!(meta.verbose_name_plural),
    );
    m.insert("meta_model_name".into(), json!(meta.meta_model_name));
}

fn pick(obj: &Value, keys: &[&str]) -> Map<String, Value> {
    keys.iter()
        .map(|k| ((*k).to_string(), obj[*k].clone()))
        .collect()
}

/// Query flags of the group and user list/retrieve views
/// (`include_users`, `include_groups`: true unless `false`;
/// `include_children`, `include_parents`: false unless `true`).
#[derive(Clone, Copy)]
pub struct Include {
    pub users: bool,
    pub groups: bool,
    pub children: bool,
    pub parents: bool,
}

impl Include {
    pub fn from_query(query: &[(String, String)]) -> Include {
        let flag = |name: &str, default: bool| {
            query
                .iter()
                .rev()
                .find(|(k, _)| k == name)
                .map_or(default, |(_, v)| v.eq_ignore_ascii_case("true"))
        };
        Include {
            users: flag("include_users", true),
            groups: flag("include_groups", true),
            children: flag("include_children", false),
            parents: flag("include_parents", false),
        }
    }
}

impl Default for Include {
    fn default() -> Include {
        Include::from_query(&[])
    }
}

impl Store {
    /// The reply for object `obj` of collection `path`.
    pub fn present(&self, path: &str, obj: &Value, inc: Include) -> Value {
        match path {
            "providers/proxy" => self.proxy_provider(obj),
            "core/applications" => self.application(obj),
            "outposts/instances" => self.outpost(obj),
            "policies/bindings" => self.binding(obj),
            "policies/expression" => self.expression_policy(obj),
            "core/groups" => self.group(obj, inc),
            "core/users" => self.user(obj, inc),
            "flows/instances" => flow(obj),
            _ => obj.clone(),
        }
    }

    /// `ProviderSerializer` (`authentik/core/api/providers.py`): the
    /// assigned application is the one whose `provider` this is.
    fn provider(&self, obj: &Value) -> Map<String, Value> {
        let app = self
            .all_ref("core/applications")
            .iter()
            .find(|a| a["provider"] == obj["pk"]);
        let backchannel = self.all_ref("core/applications").iter().find(|a| {
            a["backchannel_providers"]
                .as_array()
                .is_some_and(|b| b.contains(&obj["pk"]))
        });
        let mut m = pick(
            obj,
            &[
                "pk",
                "name",
                "authentication_flow",
                "authorization_flow",
                "invalidation_flow",
                "property_mappings",
            ],
        );
        with_meta(&mut m, &PROXY_PROVIDER_META);
        let field = |a: Option<&Value>, k: &str| a.map_or(Value::Null, |a| a[k].clone());
        m.insert("assigned_application_slug".into(), field(app, "slug"));
        m.insert("assigned_application_name".into(), field(app, "name"));
        m.insert(
            "assigned_backchannel_application_slug".into(),
            field(backchannel, "slug"),
        );
        m.insert(
            "assigned_backchannel_application_name".into(),
            field(backchannel, "name"),
        );
        m
    }

    /// `ProxyProviderSerializer` (`authentik/providers/proxy/api.py`).
    /// `outpost_set` is `ListField(child=CharField(), source="outpost_set.all")`:
    /// each outpost as `str(outpost)`, which is `Outpost {name}`
    /// (`authentik/outposts/models.py`). `redirect_uris` are what
    /// `set_oauth_defaults` (`authentik/providers/proxy/models.py`) stores
    /// on every save (`_get_callback_url`): the outpost callback joined to
    /// `external_host`, and `external_host` itself, each with
    /// `?X-authentik-auth-callback=true`, both `strict`.
    fn proxy_provider(&self, obj: &Value) -> Value {
        let mut m = self.provider(obj);
        for k in [
            "client_id",
            "internal_host",
            "external_host",
            "internal_host_ssl_validation",
            "certificate",
            "skip_path_regex",
            "basic_auth_enabled",
            "basic_auth_password_attribute",
            "basic_auth_user_attribute",
            "mode",
            "intercept_header_auth",
            "cookie_domain",
            "jwt_federation_sources",
            "jwt_federation_providers",
            "access_token_validity",
            "refresh_token_validity",
        ] {
            m.insert(k.into(), obj[k].clone());
        }
        let external = obj["external_host"].as_str().unwrap_or_default();
        let signature = "?X-authentik-auth-callback=true";
        let uris = vec![
            json!({
                "matching_mode": "strict",
                "url": format!("{}{signature}", urljoin(external, "outpost.goauthentik.io/callback")),
            }),
            json!({"matching_mode": "strict", "url": format!("{external}{signature}")}),
        ];
        m.insert("redirect_uris".into(), json!(uris));
        let outposts: Vec<Value> = self
            .all_ref("outposts/instances")
            .iter()
            .filter(|op| {
                op["providers"]
                    .as_array()
                    .is_some_and(|p| p.contains(&obj["pk"]))
            })
            .map(|op| {
                json!(format!(
                    "Outpost {}",
                    op["name"].as_str().unwrap_or_default()
                ))
            })
            .collect();
        m.insert("outpost_set".into(), json!(outposts));
        Value::Object(m)
    }

    fn provider_obj(&self, pk: &Value) -> Value {
        self.all_ref("providers/proxy")
            .iter()
            .find(|p| &p["pk"] == pk)
            .map_or(Value::Null, |p| Value::Object(self.provider(p)))
    }

    /// `ApplicationSerializer` (`authentik/core/api/applications.py`):
    /// `launch_url` is `meta_launch_url` or else the provider's launch URL
    /// (a proxy provider's `external_host`, `ProxyProvider.launch_url`);
    /// no icon is stored, so `meta_icon_url` and `meta_icon_themed_urls`
    /// are null.
    fn application(&self, obj: &Value) -> Value {
        let mut m = pick(
            obj,
            &[
                "pk",
                "name",
                "slug",
                "provider",
                "backchannel_providers",
                "open_in_new_tab",
                "meta_launch_url",
                "meta_icon",
                "meta_description",
                "meta_publisher",
                "policy_engine_mode",
                "group",
            ],
        );
        let provider = self.provider_obj(&obj["provider"]);
        let launch = match obj["meta_launch_url"].as_str() {
            Some(u) if !u.is_empty() => json!(u),
            _ => match provider.get("pk") {
                Some(_) => self
                    .all_ref("providers/proxy")
                    .iter()
                    .find(|p| p["pk"] == obj["provider"])
                    .map_or(Value::Null, |p| p["external_host"].clone()),
                None => Value::Null,
            },
        };
        m.insert("provider_obj".into(), provider);
        let back: Vec<Value> = obj["backchannel_providers"]
            .as_array()
            .map(|b| b.iter().map(|pk| self.provider_obj(pk)).collect())
            .unwrap_or_default();
        m.insert("backchannel_providers_obj".into(), json!(back));
        m.insert("launch_url".into(), launch);
        m.insert("meta_icon_url".into(), Value::Null);
        m.insert("meta_icon_themed_urls".into(), Value::Null);
        Value::Object(m)
    }

    /// `OutpostSerializer` (`authentik/outposts/api/outposts.py`):
    /// `token_identifier` is `ak-outpost-{pk}-api`, `refresh_interval_s`
    /// the config's `refresh_interval` (`minutes=5` by default) in seconds.
    fn outpost(&self, obj: &Value) -> Value {
        let mut m = pick(
            obj,
            &[
                "pk",
                "name",
                "type",
                "providers",
                "service_connection",
                "config",
                "managed",
            ],
        );
        let providers: Vec<Value> = obj["providers"]
            .as_array()
            .map(|p| p.iter().map(|pk| self.provider_obj(pk)).collect())
            .unwrap_or_default();
        m.insert("providers_obj".into(), json!(providers));
        m.insert("service_connection_obj".into(), Value::Null);
        let refresh = obj["config"]["refresh_interval"]
            .as_str()
            .and_then(|d| crate::schema::duration_seconds(d).ok())
            .unwrap_or(300.0);
        m.insert("refresh_interval_s".into(), json!(refresh as i64));
        m.insert(
            "token_identifier".into(),
            json!(format!(
                "ak-outpost-{}-api",
                obj["pk"].as_str().unwrap_or_default()
            )),
        );
        Value::Object(m)
    }

    /// `PolicySerializer` (`authentik/policies/api/policies.py`):
    /// `bound_to` counts the bindings of the policy.
    fn policy(&self, obj: &Value) -> Map<String, Value> {
        let mut m = pick(obj, &["pk", "name", "execution_logging"]);
        with_meta(&mut m, &EXPRESSION_POLICY_META);
        let bound = self
            .all_ref("policies/bindings")
            .iter()
            .filter(|b| b["policy"] == obj["pk"])
            .count();
        m.insert("bound_to".into(), json!(bound));
        m
    }

    fn expression_policy(&self, obj: &Value) -> Value {
        let mut m = self.policy(obj);
        m.insert("expression".into(), obj["expression"].clone());
        Value::Object(m)
    }

    /// `PolicyBindingSerializer` (`authentik/policies/api/bindings.py`).
    fn binding(&self, obj: &Value) -> Value {
        let mut m = pick(
            obj,
            &[
                "pk",
                "policy",
                "group",
                "user",
                "target",
                "negate",
                "enabled",
                "order",
                "timeout",
                "failure_result",
            ],
        );
        let find = |path: &str, pk: &Value| {
            self.all_ref(path)
                .iter()
                .find(|o| !pk.is_null() && &o["pk"] == pk)
                .cloned()
        };
        m.insert(
            "policy_obj".into(),
            find("policies/expression", &obj["policy"])
                .map_or(Value::Null, |p| Value::Object(self.policy(&p))),
        );
        m.insert(
            "group_obj".into(),
            find("core/groups", &obj["group"]).map_or(Value::Null, |g| partial_group(&g)),
        );
        m.insert(
            "user_obj".into(),
            find("core/users", &obj["user"]).map_or(Value::Null, |u| partial_user(&u)),
        );
        Value::Object(m)
    }

    /// Members of group `g`: its `users` and the users naming it.
    fn members(&self, g: &Value) -> Vec<Value> {
        let mut pks: Vec<Value> = g["users"].as_array().cloned().unwrap_or_default();
        for u in self.all_ref("core/users") {
            if u["groups"]
                .as_array()
                .is_some_and(|gs| gs.contains(&g["pk"]))
                && !pks.contains(&u["pk"])
            {
                pks.push(u["pk"].clone());
            }
        }
        pks
    }

    /// `GroupSerializer` (`authentik/core/api/groups.py`, 2025.8 and later:
    /// `parents`/`children` lists in place of `parent`; `num_pk` the group's
    /// int32 id).
    fn group(&self, obj: &Value, inc: Include) -> Value {
        let mut m = pick(
            obj,
            &[
                "pk",
                "num_pk",
                "name",
                "is_superuser",
                "parents",
                "attributes",
                "roles",
            ],
        );
        let users = self.members(obj);
        let groups = self.all_ref("core/groups");
        let related = |g: &Value| {
            let mut r = pick(g, &["pk", "name", "is_superuser", "attributes"]);
            r.insert("group_uuid".into(), g["pk"].clone());
            Value::Object(r)
        };
        let children: Vec<&Value> = groups
            .iter()
            .filter(|g| {
                g["parents"]
                    .as_array()
                    .is_some_and(|p| p.contains(&obj["pk"]))
            })
            .collect();
        let users_obj: Vec<Value> = users
            .iter()
            .filter_map(|pk| self.all_ref("core/users").iter().find(|u| &u["pk"] == pk))
            .map(partial_user)
            .collect();
        m.insert("users".into(), json!(users));
        m.insert(
            "users_obj".into(),
            if inc.users {
                json!(users_obj)
            } else {
                Value::Null
            },
        );
        m.insert(
            "parents_obj".into(),
            if inc.parents {
                let parents = obj["parents"].as_array().cloned().unwrap_or_default();
                json!(
                    groups
                        .iter()
                        .filter(|g| parents.contains(&g["pk"]))
                        .map(related)
                        .collect::<Vec<_>>()
                )
            } else {
                Value::Null
            },
        );
        m.insert("roles_obj".into(), json!([]));
        m.insert("inherited_roles_obj".into(), json!([]));
        m.insert(
            "children".into(),
            json!(children.iter().map(|g| g["pk"].clone()).collect::<Vec<_>>()),
        );
        m.insert(
            "children_obj".into(),
            if inc.children {
                json!(children.iter().map(|g| related(g)).collect::<Vec<_>>())
            } else {
                Value::Null
            },
        );
        Value::Object(m)
    }

    /// `UserSerializer` (`authentik/core/api/users.py`): `is_superuser`
    /// from the user's groups (`User.is_superuser`), `uid` the SHA-256 of
    /// `{install_id}-{pk}` (`User.uid`), `avatar` the generated initials
    /// image as a data URI (`authentik/lib/avatars.py`, default mode).
    fn user(&self, obj: &Value, inc: Include) -> Value {
        let mut m = pick(
            obj,
            &[
                "pk",
                "username",
                "name",
                "is_active",
                "last_login",
                "date_joined",
                "email",
                "attributes",
                "uid",
                "path",
                "type",
                "uuid",
                "password_change_date",
                "last_updated",
                "roles",
            ],
        );
        let groups: Vec<&Value> = self
            .all_ref("core/groups")
            .iter()
            .filter(|g| self.members(g).contains(&obj["pk"]))
            .collect();
        m.insert(
            "groups".into(),
            json!(groups.iter().map(|g| g["pk"].clone()).collect::<Vec<_>>()),
        );
        m.insert(
            "groups_obj".into(),
            if inc.groups {
                json!(groups.iter().map(|g| partial_group(g)).collect::<Vec<_>>())
            } else {
                Value::Null
            },
        );
        m.insert("roles_obj".into(), json!([]));
        m.insert(
            "is_superuser".into(),
            json!(groups.iter().any(|g| g["is_superuser"] == json!(true))),
        );
        m.insert("avatar".into(), json!(avatar(obj)));
        Value::Object(m)
    }
}

/// `PartialGroupSerializer`.
fn partial_group(g: &Value) -> Value {
    Value::Object(pick(
        g,
        &["pk", "num_pk", "name", "is_superuser", "attributes"],
    ))
}

/// `PartialUserSerializer`.
fn partial_user(u: &Value) -> Value {
    Value::Object(pick(
        u,
        &[
            "pk",
            "username",
            "name",
            "is_active",
            "last_login",
            "email",
            "attributes",
            "uid",
        ],
    ))
}

/// `FlowSerializer` (`authentik/flows/api/flows.py`): no stages or
/// policies are modelled; `background_url` the default background,
/// `export_url` the export action of the flow.
fn flow(obj: &Value) -> Value {
    let mut m = pick(
        obj,
        &[
            "pk",
            "policybindingmodel_ptr_id",
            "name",
            "slug",
            "title",
            "designation",
            "background",
            "policy_engine_mode",
            "compatibility_mode",
            "layout",
            "denied_action",
            "authentication",
        ],
    );
    m.insert(
        "background_url".into(),
        json!("/static/dist/assets/images/flow_background.jpg"),
    );
    m.insert("background_themed_urls".into(), Value::Null);
    m.insert("stages".into(), json!([]));
    m.insert("policies".into(), json!([]));
    m.insert("cache_count".into(), json!(0));
    m.insert(
        "export_url".into(),
        json!(format!(
            "/api/v3/flows/instances/{}/export/",
            obj["slug"].as_str().unwrap_or_default()
        )),
    );
    Value::Object(m)
}

/// Python's `urllib.parse.urljoin(base, rel)` for a relative `rel`
/// without a leading `/`: it replaces the last segment of base's path.
fn urljoin(base: &str, rel: &str) -> String {
    let Some(scheme_end) = base.find("://").map(|i| i + 3) else {
        return rel.to_string();
    };
    let end = base[scheme_end..]
        .find(['?', '#'])
        .map_or(base.len(), |i| scheme_end + i);
    let upto = &base[..end];
    match upto[scheme_end..].find('/') {
        None => format!("{upto}/{rel}"),
        Some(_) => {
            let last = upto.rfind('/').expect("a path has a slash");
            format!("{}{rel}", &upto[..=last])
        }
    }
}

/// The initials avatar Authentik generates when no other source answers:
/// an SVG of the name's initials as a base64 data URI.
fn avatar(user: &Value) -> String {
    use base64::Engine as _;
    let name = user["name"].as_str().unwrap_or_default();
    let initials: String = name
        .split_whitespace()
        .filter_map(|w| w.chars().next())
        .take(2)
        .flat_map(char::to_uppercase)
        .filter(|c| c.is_alphanumeric())
        .collect();
    let svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"100px\" height=\"100px\" viewBox=\"0 0 64 64\"><rect fill=\"#3d3d3d\" cx=\"32\" cy=\"32\" width=\"64\" height=\"64\" r=\"32\"/><text x=\"50%\" y=\"50%\" fill=\"#ffffff\" font-size=\"28\" font-weight=\"400\" text-anchor=\"middle\" dominant-baseline=\"middle\">{initials}</text></svg>"
    );
    format!(
        "data:image/svg+xml;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(svg)
    )
}

#[cfg(test)]
mod tests {
    use super::urljoin;

    #[test]
    fn urljoin_as_python() {
        let cb = "outpost.goauthentik.io/callback";
        assert_eq!(
            urljoin("https://a.test", cb),
            "https://a.test/outpost.goauthentik.io/callback"
        );
        assert_eq!(
            urljoin("https://a.test/", cb),
            "https://a.test/outpost.goauthentik.io/callback"
        );
        assert_eq!(
            urljoin("https://a.test/x/y?q=1", cb),
            "https://a.test/x/outpost.goauthentik.io/callback"
        );
    }
}

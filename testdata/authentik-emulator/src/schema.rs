//! Request-body schemas for the emulated endpoints, transcribed from the
//! field lists of Authentik's published OpenAPI document (`schema.yml`,
//! components `ProxyProviderRequest`, `ApplicationRequest`, `OutpostRequest`,
//! `PolicyBindingRequest`, `ExpressionPolicyRequest`, `GroupRequest`,
//! `UserRequest`, `FlowRequest`). Only the fields listed here are accepted;
//! an unknown field or a wrong type is a 400 with a DRF-style field error.

use serde_json::{Map, Value};

/// The JSON type a request field must have.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Kind {
    Str,
    /// A UUID in canonical text form.
    Uuid,
    Int,
    Bool,
    /// One of a fixed set of strings.
    Enum(&'static [&'static str]),
    UuidList,
    IntList,
    Object,
}

/// One writable field of a request body.
#[derive(Clone, Copy, Debug)]
pub struct Field {
    pub name: &'static str,
    pub kind: Kind,
    pub required: bool,
    pub nullable: bool,
}

const fn f(name: &'static str, kind: Kind) -> Field {
    Field {
        name,
        kind,
        required: false,
        nullable: false,
    }
}
const fn req(name: &'static str, kind: Kind) -> Field {
    Field {
        name,
        kind,
        required: true,
        nullable: false,
    }
}
const fn null(name: &'static str, kind: Kind) -> Field {
    Field {
        name,
        kind,
        required: false,
        nullable: true,
    }
}

pub const PROXY_MODES: &[&str] = &["proxy", "forward_single", "forward_domain"];
pub const POLICY_ENGINE_MODES: &[&str] = &["all", "any"];
pub const OUTPOST_TYPES: &[&str] = &["proxy", "ldap", "radius", "rac"];

/// `ProxyProviderRequest`.
pub const PROXY_PROVIDER: &[Field] = &[
    req("name", Kind::Str),
    null("authentication_flow", Kind::Uuid),
    req("authorization_flow", Kind::Uuid),
    req("invalidation_flow", Kind::Uuid),
    f("property_mappings", Kind::UuidList),
    f("internal_host", Kind::Str),
    req("external_host", Kind::Str),
    f("internal_host_ssl_validation", Kind::Bool),
    null("certificate", Kind::Uuid),
    f("skip_path_regex", Kind::Str),
    f("basic_auth_enabled", Kind::Bool),
    f("basic_auth_password_attribute", Kind::Str),
    f("basic_auth_user_attribute", Kind::Str),
    f("mode", Kind::Enum(PROXY_MODES)),
    f("intercept_header_auth", Kind::Bool),
    f("cookie_domain", Kind::Str),
    f("jwt_federation_sources", Kind::UuidList),
    f("jwt_federation_providers", Kind::IntList),
    f("access_token_validity", Kind::Str),
    f("refresh_token_validity", Kind::Str),
];

/// `ApplicationRequest`.
pub const APPLICATION: &[Field] = &[
    req("name", Kind::Str),
    req("slug", Kind::Str),
    null("provider", Kind::Int),
    f("backchannel_providers", Kind::IntList),
    f("open_in_new_tab", Kind::Bool),
    f("meta_launch_url", Kind::Str),
    f("meta_description", Kind::Str),
    f("meta_publisher", Kind::Str),
    f("policy_engine_mode", Kind::Enum(POLICY_ENGINE_MODES)),
    f("group", Kind::Str),
];

/// `OutpostRequest`.
pub const OUTPOST: &[Field] = &[
    req("name", Kind::Str),
    req("type", Kind::Enum(OUTPOST_TYPES)),
    req("providers", Kind::IntList),
    null("service_connection", Kind::Uuid),
    req("config", Kind::Object),
    null("managed", Kind::Str),
];

/// `PolicyBindingRequest`.
pub const POLICY_BINDING: &[Field] = &[
    null("policy", Kind::Uuid),
    null("group", Kind::Uuid),
    null("user", Kind::Int),
    req("target", Kind::Uuid),
    f("negate", Kind::Bool),
    f("enabled", Kind::Bool),
    req("order", Kind::Int),
    f("timeout", Kind::Int),
    f("failure_result", Kind::Bool),
];

/// `ExpressionPolicyRequest`.
pub const EXPRESSION_POLICY: &[Field] = &[
    req("name", Kind::Str),
    f("execution_logging", Kind::Bool),
    req("expression", Kind::Str),
];

/// `GroupRequest` (subset: no roles/attributes editing beyond the object).
pub const GROUP: &[Field] = &[
    req("name", Kind::Str),
    f("is_superuser", Kind::Bool),
    null("parent", Kind::Uuid),
    f("users", Kind::IntList),
    f("attributes", Kind::Object),
];

/// `UserRequest` (subset).
pub const USER: &[Field] = &[
    req("username", Kind::Str),
    req("name", Kind::Str),
    f("is_active", Kind::Bool),
    f("email", Kind::Str),
    f("groups", Kind::UuidList),
    f("attributes", Kind::Object),
    f("path", Kind::Str),
];

/// `FlowRequest` (subset).
pub const FLOW: &[Field] = &[
    req("name", Kind::Str),
    req("slug", Kind::Str),
    req("title", Kind::Str),
    req(
        "designation",
        Kind::Enum(&[
            "authentication",
            "authorization",
            "invalidation",
            "enrollment",
            "unenrollment",
            "recovery",
            "stage_configuration",
        ]),
    ),
];

fn is_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

fn kind_error(kind: Kind, v: &Value) -> Option<String> {
    let ok = match kind {
        Kind::Str => v.is_string(),
        Kind::Uuid => v.as_str().is_some_and(is_uuid),
        Kind::Int => v.is_i64() || v.is_u64(),
        Kind::Bool => v.is_boolean(),
        Kind::Enum(opts) => v.as_str().is_some_and(|s| opts.contains(&s)),
        Kind::UuidList => v
            .as_array()
            .is_some_and(|a| a.iter().all(|x| x.as_str().is_some_and(is_uuid))),
        Kind::IntList => v
            .as_array()
            .is_some_and(|a| a.iter().all(|x| x.is_i64() || x.is_u64())),
        Kind::Object => v.is_object(),
    };
    if ok {
        return None;
    }
    Some(match kind {
        Kind::Str => "Not a valid string.".into(),
        Kind::Uuid => "Must be a valid UUID.".into(),
        Kind::Int => "A valid integer is required.".into(),
        Kind::Bool => "Must be a valid boolean.".into(),
        Kind::Enum(_) => format!("\"{}\" is not a valid choice.", v.as_str().unwrap_or("")),
        Kind::UuidList => "Expected a list of UUIDs.".into(),
        Kind::IntList => "Expected a list of integers.".into(),
        Kind::Object => "Expected a dictionary of items.".into(),
    })
}

/// Checks `body` against `fields`. `partial` is PATCH semantics (nothing
/// required). Returns the DRF-style error object on failure.
pub fn validate(
    fields: &[Field],
    body: &Value,
    partial: bool,
) -> Result<Map<String, Value>, Value> {
    let Some(obj) = body.as_object() else {
        return Err(
            serde_json::json!({"non_field_errors": ["Invalid data. Expected a dictionary, but got list."]}),
        );
    };
    let mut errors = Map::new();
    for (k, v) in obj {
        match fields.iter().find(|f| f.name == k) {
            None => {
                errors.insert(
                    k.clone(),
                    serde_json::json!(["Unknown field (not in the request schema)."]),
                );
            }
            Some(field) if v.is_null() => {
                if !field.nullable {
                    errors.insert(
                        k.clone(),
                        serde_json::json!(["This field may not be null."]),
                    );
                }
            }
            Some(field) => {
                if let Some(e) = kind_error(field.kind, v) {
                    errors.insert(k.clone(), serde_json::json!([e]));
                } else if field.kind == Kind::Str && field.required && v.as_str() == Some("") {
                    errors.insert(
                        k.clone(),
                        serde_json::json!(["This field may not be blank."]),
                    );
                }
            }
        }
    }
    if !partial {
        for field in fields.iter().filter(|f| f.required) {
            if !obj.contains_key(field.name) {
                errors.insert(
                    field.name.into(),
                    serde_json::json!(["This field is required."]),
                );
            }
        }
    }
    if errors.is_empty() {
        Ok(obj.clone())
    } else {
        Err(Value::Object(errors))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rejects_unknown_fields_wrong_types_and_missing_required() {
        let err = validate(
            PROXY_PROVIDER,
            &json!({"name": "x", "mode": "weird", "external_host": 3, "bogus": 1}),
            false,
        )
        .unwrap_err();
        assert!(
            err["mode"][0]
                .as_str()
                .unwrap()
                .contains("not a valid choice")
        );
        assert_eq!(err["external_host"][0], "Not a valid string.");
        assert!(err["bogus"][0].as_str().unwrap().contains("Unknown field"));
        assert_eq!(err["authorization_flow"][0], "This field is required.");
    }

    #[test]
    fn partial_skips_required_and_accepts_nullables() {
        assert!(validate(POLICY_BINDING, &json!({"group": null, "order": 1}), true).is_ok());
        assert!(validate(POLICY_BINDING, &json!({"order": "1"}), true).is_err());
        assert!(is_uuid("0b7c3a4e-1f2d-4c5b-9a8e-7d6c5b4a3f2e"));
        assert!(!is_uuid("not-a-uuid"));
    }
}

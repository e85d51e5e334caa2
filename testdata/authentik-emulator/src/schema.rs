//! Request-body schemas and serializer rules of the emulated endpoints.
//!
//! Field lists, required/nullable flags, `minLength: 1` (non-blank),
//! patterns and integer ranges are those of Authentik's OpenAPI document
//! (`schema.yml`) for the server version in `README.md`, components
//! `ProxyProviderRequest`, `ApplicationRequest`, `OutpostRequest`,
//! `PolicyBindingRequest`, `ExpressionPolicyRequest`, `GroupRequest`,
//! `UserRequest`, `FlowRequest`. The cross-field rules are the serializers'
//! `validate` methods (cited at each rule). As in Django REST framework, a
//! field the serializer does not declare is ignored, not an error; the
//! emulator records it (see [`Checked::ignored`]) so tests can still prove
//! a client sends only schema fields.

use serde_json::{Map, Value, json};

/// The JSON type (and constraint) a request field must have.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Kind {
    Str,
    /// `^[-a-zA-Z0-9_]+$` (Django's `SlugField`).
    Slug,
    /// Text `timedelta_string_validator` accepts
    /// (`authentik/lib/utils/time.py`): see [`duration_seconds`].
    Duration,
    /// A URL `DomainlessURLValidator` accepts: see [`is_valid_url`].
    Url,
    /// A UUID in canonical text form.
    Uuid,
    /// An integer within the inclusive range.
    Int(i64, i64),
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
    /// `minLength: 1` in the schema: an empty string is "may not be blank".
    pub non_blank: bool,
}

const fn f(name: &'static str, kind: Kind) -> Field {
    Field {
        name,
        kind,
        required: false,
        nullable: false,
        non_blank: false,
    }
}
const fn req(name: &'static str, kind: Kind) -> Field {
    Field {
        required: true,
        ..f(name, kind)
    }
}
const fn null(name: &'static str, kind: Kind) -> Field {
    Field {
        nullable: true,
        ..f(name, kind)
    }
}
/// Required and `minLength: 1`.
const fn text(name: &'static str, kind: Kind) -> Field {
    Field {
        required: true,
        non_blank: true,
        ..f(name, kind)
    }
}
/// Optional and `minLength: 1`.
const fn opt_text(name: &'static str, kind: Kind) -> Field {
    Field {
        non_blank: true,
        ..f(name, kind)
    }
}

/// PostgreSQL `integer` (Django `IntegerField`), as the schema's
/// `minimum`/`maximum`.
pub const INT32: Kind = Kind::Int(-2147483648, 2147483647);
/// Django `PositiveIntegerField`.
pub const UINT32: Kind = Kind::Int(0, 2147483647);
const ANY_INT: Kind = Kind::Int(i64::MIN, i64::MAX);

pub const PROXY_MODES: &[&str] = &["proxy", "forward_single", "forward_domain"];
pub const POLICY_ENGINE_MODES: &[&str] = &["all", "any"];
pub const OUTPOST_TYPES: &[&str] = &["proxy", "ldap", "radius", "rac"];
pub const USER_TYPES: &[&str] = &[
    "internal",
    "external",
    "service_account",
    "internal_service_account",
];

/// `ProxyProviderRequest`.
pub const PROXY_PROVIDER: &[Field] = &[
    text("name", Kind::Str),
    null("authentication_flow", Kind::Uuid),
    req("authorization_flow", Kind::Uuid),
    req("invalidation_flow", Kind::Uuid),
    f("property_mappings", Kind::UuidList),
    f("internal_host", Kind::Url),
    text("external_host", Kind::Url),
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
    opt_text("access_token_validity", Kind::Duration),
    opt_text("refresh_token_validity", Kind::Duration),
];

/// `ApplicationRequest`.
pub const APPLICATION: &[Field] = &[
    text("name", Kind::Str),
    text("slug", Kind::Slug),
    null("provider", ANY_INT),
    f("backchannel_providers", Kind::IntList),
    f("open_in_new_tab", Kind::Bool),
    f("meta_launch_url", Kind::Str),
    f("meta_icon", Kind::Str),
    f("meta_description", Kind::Str),
    f("meta_publisher", Kind::Str),
    f("policy_engine_mode", Kind::Enum(POLICY_ENGINE_MODES)),
    f("group", Kind::Str),
];

/// `OutpostRequest`.
pub const OUTPOST: &[Field] = &[
    text("name", Kind::Str),
    req("type", Kind::Enum(OUTPOST_TYPES)),
    req("providers", Kind::IntList),
    null("service_connection", Kind::Uuid),
    req("config", Kind::Object),
    Field {
        nullable: true,
        ..opt_text("managed", Kind::Str)
    },
];

/// `PolicyBindingRequest`.
pub const POLICY_BINDING: &[Field] = &[
    null("policy", Kind::Uuid),
    null("group", Kind::Uuid),
    null("user", ANY_INT),
    req("target", Kind::Uuid),
    f("negate", Kind::Bool),
    f("enabled", Kind::Bool),
    req("order", INT32),
    f("timeout", UINT32),
    f("failure_result", Kind::Bool),
];

/// `ExpressionPolicyRequest`.
pub const EXPRESSION_POLICY: &[Field] = &[
    text("name", Kind::Str),
    f("execution_logging", Kind::Bool),
    text("expression", Kind::Str),
];

/// `GroupRequest`.
pub const GROUP: &[Field] = &[
    text("name", Kind::Str),
    f("is_superuser", Kind::Bool),
    f("parents", Kind::UuidList),
    f("users", Kind::IntList),
    f("attributes", Kind::Object),
    f("roles", Kind::UuidList),
];

/// `UserRequest` (without `last_login`, which the emulator does not keep).
pub const USER: &[Field] = &[
    text("username", Kind::Str),
    req("name", Kind::Str),
    f("is_active", Kind::Bool),
    f("groups", Kind::UuidList),
    f("roles", Kind::UuidList),
    f("email", Kind::Str),
    f("attributes", Kind::Object),
    opt_text("path", Kind::Str),
    f("type", Kind::Enum(USER_TYPES)),
];

/// `FlowRequest` (the fields the emulator keeps).
pub const FLOW: &[Field] = &[
    text("name", Kind::Str),
    text("slug", Kind::Slug),
    text("title", Kind::Str),
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
    f("policy_engine_mode", Kind::Enum(POLICY_ENGINE_MODES)),
];

pub fn is_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// Django's `validate_slug`: `^[-a-zA-Z0-9_]+$`.
pub fn is_slug(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
}

/// Django's `URLValidator` as Authentik's `DomainlessURLValidator`
/// (`authentik/lib/models.py`) configures it for the proxy provider's
/// `external_host` and `internal_host` (schemes http, https; hosts without
/// a domain allowed): at most 2048 characters, no tab or line break, an
/// allowed scheme (`blank` is one too), then the URL pattern (optional
/// `user:pass@`, an IPv4 address, a bracketed IPv6 address or a host name
/// of labels, optional 1-5 digit port, a path, query or fragment without
/// white space), an IPv6 literal that parses, and a host name of at most
/// 253 characters.
pub fn is_valid_url(value: &str) -> bool {
    static PATTERN: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let re = PATTERN.get_or_init(|| {
        let ul = "\u{a1}-\u{ffff}";
        let octet = "(?:0|25[0-5]|2[0-4][0-9]|1[0-9]?[0-9]?|[1-9][0-9]?)";
        let ipv4 = format!(r"{octet}(?:\.{octet}){{3}}");
        let label = format!(r"[a-z{ul}0-9](?:[a-z{ul}0-9-]{{0,61}}[a-z{ul}0-9])?");
        let domain = format!(r"(?:\.[a-z{ul}0-9](?:[a-z{ul}0-9-]{{0,61}}[a-z{ul}0-9])?)*");
        regex::Regex::new(&format!(
            r"(?i)^(?:[a-z0-9.+-]*)://(?:[^\s:@/]+(?::[^\s:@/]*)?@)?(?:{ipv4}|\[[0-9a-f:.]+\]|{label}{domain}|localhost)(?::[0-9]{{1,5}})?(?:[/?#][^\s]*)?\z"
        ))
        .expect("URL pattern")
    });
    if value.chars().count() > 2048 || value.contains(['\t', '\r', '\n']) {
        return false;
    }
    let scheme = value.split("://").next().unwrap_or_default().to_lowercase();
    if !["http", "https", "blank"].contains(&scheme.as_str()) || !re.is_match(value) {
        return false;
    }
    let rest = &value[value.find("://").map_or(0, |i| i + 3)..];
    let netloc = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let hostport = netloc.rsplit_once('@').map_or(netloc, |(_, h)| h);
    let host = if let Some(inner) = hostport.strip_prefix('[') {
        match inner.split_once(']') {
            Some((v6, _)) => {
                if v6.parse::<std::net::Ipv6Addr>().is_err() {
                    return false;
                }
                v6
            }
            None => return false,
        }
    } else {
        hostport.split(':').next().unwrap_or_default()
    };
    !host.is_empty() && host.chars().count() <= 253
}

/// Why a duration text fails, as `timedelta_from_string` would.
#[derive(Debug, PartialEq)]
pub enum DurationError {
    /// A `ValueError`: `timedelta_string_validator` answers 400.
    Invalid,
    /// An `OverflowError` (infinite or beyond 999999999 days): uncaught by
    /// the validator, so the server answers 500.
    Overflow,
}

const DURATION_KEYS: &[(&str, f64)] = &[
    ("microseconds", 1e-6),
    ("milliseconds", 1e-3),
    ("seconds", 1.0),
    ("minutes", 60.0),
    ("hours", 3600.0),
    ("days", 86400.0),
    ("weeks", 604800.0),
];

/// Python's `float()` of a stripped string: decimal or exponent notation,
/// `_` between digits, `inf`/`infinity`/`nan` in any case.
fn python_float(s: &str) -> Option<f64> {
    let s = s.trim();
    let b = s.as_bytes();
    let mut plain = String::with_capacity(s.len());
    for (i, &c) in b.iter().enumerate() {
        if c == b'_' {
            let digit = |j: Option<&u8>| j.is_some_and(u8::is_ascii_digit);
            if !(digit(b.get(i.wrapping_sub(1))) && digit(b.get(i + 1))) {
                return None;
            }
            continue;
        }
        plain.push(c as char);
    }
    let lower = plain.to_ascii_lowercase();
    let body = lower.trim_start_matches(['+', '-']);
    if lower.len() - body.len() > 1 {
        return None;
    }
    if ["inf", "infinity", "nan"].contains(&body) {
        return plain.parse().ok();
    }
    // Rust also takes forms Python does not ("inf" handled above); the
    // rest of the grammar is the same: digits, one '.', an exponent.
    if !body
        .bytes()
        .all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'+' | b'-'))
    {
        return None;
    }
    plain.parse().ok()
}

/// Seconds of a duration in Authentik's `hours=1;minutes=2` form, as
/// `timedelta_from_string` (`authentik/lib/utils/time.py`) computes it:
/// `;`-separated `key=value` pairs, each with exactly one `=`; keys
/// compared in lower case, unknown keys skipped; values are Python floats;
/// at least one known key; `datetime.timedelta` limits.
pub fn duration_seconds(expr: &str) -> Result<f64, DurationError> {
    let mut total = 0.0f64;
    let mut known = 0;
    for pair in expr.split(';') {
        let mut parts = pair.split('=');
        let (Some(key), Some(value), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(DurationError::Invalid);
        };
        let Some((_, unit)) = DURATION_KEYS.iter().find(|(k, _)| *k == key.to_lowercase()) else {
            continue;
        };
        let v = python_float(value).ok_or(DurationError::Invalid)?;
        known += 1;
        total += v * unit;
    }
    if known == 0 || total.is_nan() {
        return Err(DurationError::Invalid);
    }
    if !total.is_finite() || total.abs() >= 1e9 * 86400.0 {
        return Err(DurationError::Overflow);
    }
    Ok(total)
}

fn int_of(v: &Value) -> Option<i128> {
    v.as_i64()
        .map(i128::from)
        .or_else(|| v.as_u64().map(i128::from))
}

/// Python's `int()` of a string: surrounding white space, a sign, digits
/// with single `_` between them.
fn python_int(s: &str) -> Option<i128> {
    let t = s.trim();
    let digits = t.strip_prefix(['+', '-']).unwrap_or(t);
    let b = digits.as_bytes();
    if b.is_empty()
        || !b.iter().all(|c| c.is_ascii_digit() || *c == b'_')
        || b[0] == b'_'
        || b[b.len() - 1] == b'_'
        || digits.contains("__")
    {
        return None;
    }
    let n: i128 = digits.replace('_', "").parse().ok()?;
    Some(if t.starts_with('-') { -n } else { n })
}

/// The text Python's `str()` gives a JSON number (as written; integers
/// are exact).
fn number_text(n: &serde_json::Number) -> String {
    n.to_string()
}

/// DRF's `to_internal_value` for the field's type: the value as the
/// serializer keeps it, or the error it raises. `CharField` (every text
/// field of these serializers) takes strings and numbers, strips
/// surrounding white space (`trim_whitespace=True`); `IntegerField` takes
/// integers and their text (`int(re.sub(r"\.0*\s*$", "", str(data)))`);
/// `BooleanField` its `TRUE_VALUES`/`FALSE_VALUES`; `ChoiceField` matches
/// `str(data)`. UUIDs, lists and objects are taken in their JSON form only
/// (stricter than Django, which also reads other UUID spellings).
fn to_internal(kind: Kind, v: &Value) -> Result<Value, String> {
    match kind {
        Kind::Str | Kind::Slug | Kind::Duration | Kind::Url => match v {
            Value::String(s) => Ok(Value::String(s.trim().to_string())),
            Value::Number(n) => Ok(Value::String(number_text(n))),
            _ => Err("Not a valid string.".into()),
        },
        Kind::Int(..) => {
            let n = match v {
                Value::Number(n) => int_of(v).or_else(|| {
                    let t = number_text(n);
                    let trimmed = t.trim_end_matches('0');
                    trimmed.strip_suffix('.').and_then(python_int)
                }),
                Value::String(s) if s.len() <= 1000 => {
                    let t = s.trim_end();
                    let t = t.trim_end_matches('0');
                    match t.strip_suffix('.') {
                        Some(whole) if s.trim_end().contains('.') => python_int(whole),
                        _ => python_int(s),
                    }
                }
                _ => None,
            };
            match n.and_then(|n| i64::try_from(n).ok().map(|x| (n, x))) {
                Some((_, x)) => Ok(json!(x)),
                None => match n {
                    Some(big) => Ok(Value::Number(
                        big.to_string()
                            .parse()
                            .map_err(|_| "A valid integer is required.")?,
                    )),
                    None => Err("A valid integer is required.".into()),
                },
            }
        }
        Kind::Bool => {
            const TRUE: &[&str] = &[
                "t", "T", "y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON",
                "1",
            ];
            const FALSE: &[&str] = &[
                "f", "F", "n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off",
                "OFF", "0",
            ];
            match v {
                Value::Bool(b) => Ok(json!(b)),
                Value::String(s) if TRUE.contains(&s.as_str()) => Ok(json!(true)),
                Value::String(s) if FALSE.contains(&s.as_str()) => Ok(json!(false)),
                Value::Number(n) if n.as_f64() == Some(1.0) => Ok(json!(true)),
                Value::Number(n) if n.as_f64() == Some(0.0) => Ok(json!(false)),
                _ => Err("Must be a valid boolean.".into()),
            }
        }
        Kind::Enum(opts) => {
            let text = match v {
                Value::String(s) => s.clone(),
                Value::Number(n) => number_text(n),
                Value::Bool(b) => if *b { "True" } else { "False" }.to_string(),
                other => other.to_string(),
            };
            if opts.contains(&text.as_str()) {
                Ok(Value::String(text))
            } else {
                Err(format!("\"{text}\" is not a valid choice."))
            }
        }
        Kind::Uuid => match v.as_str() {
            Some(s) if is_uuid(s) => Ok(v.clone()),
            _ => Err("Must be a valid UUID.".into()),
        },
        Kind::UuidList => match v.as_array() {
            Some(a) if a.iter().all(|x| x.as_str().is_some_and(is_uuid)) => Ok(v.clone()),
            _ => Err("Expected a list of UUIDs.".into()),
        },
        Kind::IntList => match v.as_array() {
            Some(a) if a.iter().all(|x| int_of(x).is_some()) => Ok(v.clone()),
            _ => Err("Expected a list of integers.".into()),
        },
        Kind::Object => match v {
            Value::Object(_) => Ok(v.clone()),
            _ => Err("Expected a dictionary of items.".into()),
        },
    }
}

/// The field's validators on the value as kept: integer ranges, the slug
/// pattern, the URL validator, the duration validator.
fn constraint_error(kind: Kind, v: &Value) -> Option<String> {
    let text = v.as_str().unwrap_or_default();
    match kind {
        // DRF's IntegerField min/max validators.
        Kind::Int(min, max) => {
            let n = int_of(v).or_else(|| v.to_string().parse::<i128>().ok())?;
            if n < i128::from(min) {
                Some(format!("Ensure this value is greater than or equal to {min}."))
            } else if n > i128::from(max) {
                Some(format!("Ensure this value is less than or equal to {max}."))
            } else {
                None
            }
        }
        // Django's validate_slug message.
        Kind::Slug if !text.is_empty() && !is_slug(text) => Some(
            "Enter a valid \u{201c}slug\u{201d} consisting of letters, numbers, underscores or hyphens.".into(),
        ),
        // Django's URLValidator message.
        Kind::Url if !text.is_empty() && !is_valid_url(text) => Some("Enter a valid URL.".into()),
        Kind::Duration if !text.is_empty() && duration_seconds(text) == Err(DurationError::Invalid) => {
            Some(format!("{text} is not in the correct format of 'hours=3;minutes=1'."))
        }
        _ => None,
    }
}

/// A body that passed [`validate`]: the declared fields, and the names of
/// the fields the serializer ignored.
pub struct Checked {
    pub fields: Map<String, Value>,
    pub ignored: Vec<String>,
    /// Fields whose value the serializer changed on the way in (white space
    /// stripped, `"1"` read as 1, ...): what is stored differs from what
    /// was sent.
    pub coerced: Vec<String>,
}

/// Checks `body` against `fields` as the DRF serializer's field validation
/// does. `partial` is PATCH semantics (nothing required). Returns the
/// field-error object (`{"field": ["message"]}`) on failure.
pub fn validate(fields: &[Field], body: &Value, partial: bool) -> Result<Checked, Value> {
    let Some(obj) = body.as_object() else {
        let got = match body {
            Value::Array(_) => "list",
            Value::Null => "NoneType",
            Value::String(_) => "str",
            Value::Bool(_) => "bool",
            Value::Number(n) if n.is_f64() => "float",
            _ => "int",
        };
        return Err(json!({"non_field_errors": [
            format!("Invalid data. Expected a dictionary, but got {got}.")
        ]}));
    };
    let mut errors = Map::new();
    let mut out = Map::new();
    let mut ignored = Vec::new();
    let mut coerced = Vec::new();
    for (k, v) in obj {
        let Some(field) = fields.iter().find(|f| f.name == k) else {
            ignored.push(k.clone());
            continue;
        };
        let kept = if v.is_null() {
            if field.nullable {
                Ok(Value::Null)
            } else {
                Err("This field may not be null.".to_string())
            }
        } else {
            to_internal(field.kind, v).and_then(|kept| {
                if field.non_blank && kept.as_str() == Some("") {
                    Err("This field may not be blank.".to_string())
                } else {
                    constraint_error(field.kind, &kept).map_or(Ok(kept), Err)
                }
            })
        };
        match kept {
            Err(e) => {
                errors.insert(k.clone(), json!([e]));
            }
            Ok(kept) => {
                if &kept != v {
                    coerced.push(k.clone());
                }
                out.insert(k.clone(), kept);
            }
        }
    }
    if !partial {
        for field in fields.iter().filter(|f| f.required) {
            if !obj.contains_key(field.name) {
                errors.insert(field.name.into(), json!(["This field is required."]));
            }
        }
    }
    if errors.is_empty() {
        Ok(Checked {
            fields: out,
            ignored,
            coerced,
        })
    } else {
        Err(Value::Object(errors))
    }
}

/// The serializers' `validate(attrs)` rules that look at more than one
/// field of the request (`attrs` holds only what the request sent, also on
/// PATCH). Dangling references and uniqueness are the store's. `Err(Null)`
/// stands for a server error (500) the serializer runs into.
pub fn cross_field(path: &str, attrs: &Map<String, Value>) -> Result<(), Value> {
    let get = |k: &str| attrs.get(k).and_then(Value::as_str).unwrap_or("");
    match path {
        // authentik/providers/proxy/api.py, ProxyProviderSerializer:
        // validate_basic_auth_enabled reads initial_data, validate() uses
        // attrs.get("mode", PROXY): a PATCH without `mode` counts as proxy.
        "providers/proxy" => {
            if attrs.get("basic_auth_enabled") == Some(&Value::Bool(true))
                && (get("basic_auth_password_attribute").is_empty()
                    || get("basic_auth_user_attribute").is_empty())
            {
                return Err(json!({"basic_auth_enabled": [
                    "User and password attributes must be set when basic auth is enabled."
                ]}));
            }
            let mode = attrs.get("mode").and_then(Value::as_str).unwrap_or("proxy");
            if mode == "proxy" && get("internal_host").is_empty() {
                return Err(json!({"internal_host": [
                    "Internal host cannot be empty when forward auth is disabled."
                ]}));
            }
        }
        // authentik/policies/api/bindings.py, PolicyBindingSerializer.validate:
        // an application supports policy, group and user bindings, counted
        // in what was sent (so a PATCH must resend the policy, group or
        // user); without `target` it calls a method on None: 500.
        "policies/bindings" => {
            if !attrs.contains_key("target") {
                return Err(Value::Null);
            }
            let set = ["policy", "group", "user"]
                .iter()
                .filter(|f| attrs.get(**f).is_some_and(|v| !v.is_null()))
                .count();
            if set > 1 {
                return Err(json!({"non_field_errors": [
                    "Only one of 'policy', 'group', 'user' can be set."
                ]}));
            }
            if set == 0 {
                return Err(json!({"non_field_errors": [
                    "One of 'policy', 'group', 'user' must be set."
                ]}));
            }
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_errors_as_drf_words_them_and_unknown_fields_ignored() {
        let err = match validate(
            PROXY_PROVIDER,
            &json!({"name": " ", "mode": "weird", "external_host": [3], "bogus": 1}),
            false,
        ) {
            Err(e) => e,
            Ok(_) => panic!("accepted"),
        };
        assert_eq!(err["mode"][0], "\"weird\" is not a valid choice.");
        assert_eq!(err["external_host"][0], "Not a valid string.");
        assert_eq!(err["name"][0], "This field may not be blank.");
        assert!(err.get("bogus").is_none());
        assert_eq!(err["authorization_flow"][0], "This field is required.");
        let ok = validate(
            EXPRESSION_POLICY,
            &json!({"name": "n", "expression": "return True", "x": 1}),
            false,
        )
        .map_err(|e| e.to_string())
        .expect("valid");
        assert_eq!(ok.ignored, vec!["x".to_string()]);
        assert!(!ok.fields.contains_key("x"));
    }

    #[test]
    fn ranges_slugs_and_durations() {
        let bad = |fields, body: Value| validate(fields, &body, true).err();
        let e = bad(POLICY_BINDING, json!({"order": 2147483648u64})).unwrap();
        assert_eq!(
            e["order"][0],
            "Ensure this value is less than or equal to 2147483647."
        );
        let e = bad(POLICY_BINDING, json!({"timeout": -1})).unwrap();
        assert_eq!(
            e["timeout"][0],
            "Ensure this value is greater than or equal to 0."
        );
        assert!(bad(POLICY_BINDING, json!({"order": -2147483648i64})).is_none());
        assert!(bad(POLICY_BINDING, json!({"order": true})).is_some());
        assert!(bad(POLICY_BINDING, json!({"order": "1.5"})).is_some());
        let e = bad(APPLICATION, json!({"slug": "a b"})).unwrap();
        assert!(e["slug"][0].as_str().unwrap().contains("slug"));
        assert!(bad(APPLICATION, json!({"slug": "ok_-9"})).is_none());
        let e = bad(PROXY_PROVIDER, json!({"access_token_validity": ""})).unwrap();
        assert_eq!(
            e["access_token_validity"][0],
            "This field may not be blank."
        );
        let e = bad(PROXY_PROVIDER, json!({"access_token_validity": "hours"})).unwrap();
        assert_eq!(
            e["access_token_validity"][0],
            "hours is not in the correct format of 'hours=3;minutes=1'."
        );
        for good in [
            "hours=24",
            "HOURS=1;minutes=30",
            "days=1_0",
            "seconds= 5 ",
            "hours=1;bogus=x",
            "weeks=-1",
        ] {
            assert!(duration_seconds(good).is_ok(), "{good}");
        }
        for invalid in [
            "",
            "hours",
            "hours=1=2",
            "bogus=1",
            "hours=x",
            "hours=nan",
            "hours=1;",
            "hours=1__0",
            "hours=--1",
        ] {
            assert_eq!(
                duration_seconds(invalid),
                Err(DurationError::Invalid),
                "{invalid}"
            );
        }
        for huge in ["hours=inf", "days=1000000000"] {
            assert_eq!(
                duration_seconds(huge),
                Err(DurationError::Overflow),
                "{huge}"
            );
        }
        assert_eq!(duration_seconds("hours=1;minutes=2;seconds=3"), Ok(3723.0));
    }

    #[test]
    fn drf_reads_text_numbers_and_booleans_and_strips_white_space() {
        let ok = |fields, body: Value| {
            validate(fields, &body, true)
                .map_err(|e| e.to_string())
                .expect("accepted")
        };
        let c = ok(
            POLICY_BINDING,
            json!({"order": "7", "timeout": "30.00 ", "negate": "yes", "enabled": 0}),
        );
        assert_eq!(
            Value::Object(c.fields),
            json!({"order": 7, "timeout": 30, "negate": true, "enabled": false})
        );
        assert_eq!(c.coerced.len(), 4);
        let c = ok(
            PROXY_PROVIDER,
            json!({"name": " Grafana\n", "skip_path_regex": "^/a$\n", "mode": "forward_single"}),
        );
        assert_eq!(c.fields["name"], "Grafana");
        assert_eq!(c.fields["skip_path_regex"], "^/a$");
        assert_eq!(
            c.coerced,
            vec!["name".to_string(), "skip_path_regex".to_string()]
        );
        assert_eq!(ok(APPLICATION, json!({"name": 5})).fields["name"], "5");
        assert!(ok(POLICY_BINDING, json!({"order": 1})).coerced.is_empty());
        let e = validate(
            PROXY_PROVIDER,
            &json!({"access_token_validity": "   "}),
            true,
        )
        .err()
        .unwrap();
        assert_eq!(
            e["access_token_validity"][0],
            "This field may not be blank."
        );
    }

    #[test]
    fn urls_as_domainless_url_validator() {
        for ok in [
            "https://grafana.example.com",
            "http://grafana:3000/path?q=1#f",
            "https://localhost",
            "https://user:pw@10.0.0.1:8443",
            "http://[::1]:8080/",
            "HTTPS://Grafana.Example.COM",
            "https://bücher.example",
            "blank://x",
        ] {
            assert!(is_valid_url(ok), "{ok}");
        }
        for bad in [
            "grafana.example.com",
            "ftp://grafana.example.com",
            "https://",
            "https://exa mple.com",
            "https://example.com/a b",
            "https://-bad.example.com",
            "https://a..b",
            "https://[::zz]/",
            "https://a.example.com:123456",
            "https://a.example.com\n",
            "https://a.example.com/\tx",
        ] {
            assert!(!is_valid_url(bad), "{bad:?}");
        }
        let e = validate(
            PROXY_PROVIDER,
            &json!({"external_host": "https://a b"}),
            true,
        )
        .err()
        .unwrap();
        assert_eq!(e["external_host"][0], "Enter a valid URL.");
        assert!(validate(PROXY_PROVIDER, &json!({"internal_host": ""}), true).is_ok());
    }

    #[test]
    fn cross_field_rules() {
        let m = |v: Value| v.as_object().unwrap().clone();
        let e =
            cross_field("providers/proxy", &m(json!({"external_host": "https://a"}))).unwrap_err();
        assert!(
            e["internal_host"][0]
                .as_str()
                .unwrap()
                .contains("Internal host")
        );
        assert!(cross_field("providers/proxy", &m(json!({"mode": "forward_single"}))).is_ok());
        assert!(
            cross_field(
                "providers/proxy",
                &m(json!({"mode": "proxy", "internal_host": "http://x"}))
            )
            .is_ok()
        );
        let e = cross_field(
            "policies/bindings",
            &m(json!({"target": "t", "group": "g", "user": 1})),
        )
        .unwrap_err();
        assert_eq!(
            e["non_field_errors"][0],
            "Only one of 'policy', 'group', 'user' can be set."
        );
        assert!(cross_field("policies/bindings", &m(json!({"target": "t", "order": 1}))).is_err());
        assert_eq!(
            cross_field("policies/bindings", &m(json!({"order": 1}))),
            Err(Value::Null)
        );
    }
}

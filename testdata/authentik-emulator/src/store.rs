//! The object store behind the emulator: collections of JSON objects, the
//! schema of each, its lookup key, defaults, reference checks and cascades.

use std::collections::BTreeMap;

use axum::http::{Method, StatusCode};
use serde_json::{Map, Value, json};

use crate::schema::{self, Field};

/// Name of the outpost Authentik creates itself (managed
/// `goauthentik.io/outposts/embedded`).
pub const EMBEDDED_OUTPOST: &str = "authentik Embedded Outpost";

/// Authentik's REST framework page size.
const PAGE_SIZE: usize = 100;

struct Kind {
    /// URL segment after /api/v3/, e.g. "providers/proxy".
    path: &'static str,
    fields: &'static [Field],
    /// Field used in the detail URL (`pk`, or `slug`).
    lookup: &'static str,
    int_pk: bool,
    /// Field that must be unique.
    unique: &'static str,
}

const KINDS: &[Kind] = &[
    Kind {
        path: "providers/proxy",
        fields: schema::PROXY_PROVIDER,
        lookup: "pk",
        int_pk: true,
        unique: "name",
    },
    Kind {
        path: "core/applications",
        fields: schema::APPLICATION,
        lookup: "slug",
        int_pk: false,
        unique: "slug",
    },
    Kind {
        path: "outposts/instances",
        fields: schema::OUTPOST,
        lookup: "pk",
        int_pk: false,
        unique: "name",
    },
    Kind {
        path: "policies/bindings",
        fields: schema::POLICY_BINDING,
        lookup: "pk",
        int_pk: false,
        unique: "",
    },
    Kind {
        path: "policies/expression",
        fields: schema::EXPRESSION_POLICY,
        lookup: "pk",
        int_pk: false,
        unique: "name",
    },
    Kind {
        path: "core/groups",
        fields: schema::GROUP,
        lookup: "pk",
        int_pk: false,
        unique: "name",
    },
    Kind {
        path: "core/users",
        fields: schema::USER,
        lookup: "pk",
        int_pk: true,
        unique: "username",
    },
    Kind {
        path: "flows/instances",
        fields: schema::FLOW,
        lookup: "slug",
        int_pk: false,
        unique: "slug",
    },
];

/// (collection, field, referenced collection) — dangling references are 400s.
const REFS: &[(&str, &str, &str)] = &[
    ("providers/proxy", "authorization_flow", "flows/instances"),
    ("providers/proxy", "invalidation_flow", "flows/instances"),
    ("providers/proxy", "authentication_flow", "flows/instances"),
    ("core/applications", "provider", "providers/proxy"),
    ("outposts/instances", "providers", "providers/proxy"),
    ("policies/bindings", "policy", "policies/expression"),
    ("policies/bindings", "group", "core/groups"),
    ("policies/bindings", "user", "core/users"),
    ("policies/bindings", "target", "core/applications"),
];

/// All collections, keyed by path.
#[derive(Default)]
pub struct Store {
    pub objects: BTreeMap<&'static str, Vec<Value>>,
    next_int: i64,
    next_uuid: u64,
}

fn kind(path: &str) -> Option<&'static Kind> {
    KINDS.iter().find(|k| k.path == path)
}

fn err(status: StatusCode, detail: &str) -> (StatusCode, Value) {
    (status, json!({"detail": detail}))
}

fn field_err(field: &str, msg: String) -> (StatusCode, Value) {
    (StatusCode::BAD_REQUEST, json!({field: [msg]}))
}

fn key_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

impl Store {
    /// The state of a fresh Authentik: the default flows, `akadmin`, the
    /// `authentik Admins` group and the embedded outpost.
    pub fn seeded() -> Store {
        let mut s = Store::default();
        for (slug, designation) in [
            ("default-authentication-flow", "authentication"),
            (
                "default-provider-authorization-implicit-consent",
                "authorization",
            ),
            (
                "default-provider-authorization-explicit-consent",
                "authorization",
            ),
            ("default-provider-invalidation-flow", "invalidation"),
            ("default-invalidation-flow", "invalidation"),
        ] {
            s.insert_unchecked(
                "flows/instances",
                json!({"name": slug, "slug": slug, "title": slug, "designation": designation}),
            );
        }
        let admins = s.insert_unchecked(
            "core/groups",
            json!({"name": "authentik Admins", "is_superuser": true}),
        );
        s.insert_unchecked(
            "core/users",
            json!({"username": "akadmin", "name": "authentik Default Admin", "email": "admin@example.test", "groups": [admins["pk"]]}),
        );
        s.insert_unchecked(
            "outposts/instances",
            json!({"name": EMBEDDED_OUTPOST, "type": "proxy", "providers": [], "service_connection": null,
                   "config": {"authentik_host": ""}, "managed": "goauthentik.io/outposts/embedded"}),
        );
        s
    }

    fn new_pk(&mut self, int: bool) -> Value {
        if int {
            self.next_int += 1;
            json!(self.next_int)
        } else {
            self.next_uuid += 1;
            json!(format!("6a1b0c2d-3e4f-4a5b-8c6d-{:012x}", self.next_uuid))
        }
    }

    /// Inserts without validation (seeding and test setup); returns the object.
    pub fn insert_unchecked(&mut self, path: &str, mut obj: Value) -> Value {
        let k = kind(path).expect("known collection");
        let pk = self.new_pk(k.int_pk);
        let m = obj.as_object_mut().expect("object");
        m.insert("pk".into(), pk);
        defaults(path, m);
        self.objects.entry(k.path).or_default().push(obj.clone());
        obj
    }

    fn coll(&self, path: &str) -> &[Value] {
        self.objects.get(path).map(Vec::as_slice).unwrap_or(&[])
    }

    fn exists(&self, path: &str, pk: &Value) -> bool {
        self.coll(path).iter().any(|o| &o["pk"] == pk)
    }

    fn position(&self, k: &Kind, key: &str) -> Option<usize> {
        self.coll(k.path)
            .iter()
            .position(|o| key_text(&o[k.lookup]) == key)
    }

    /// Test hook: edits the object of `path` whose lookup key is `key`.
    pub fn mutate(&mut self, path: &str, key: &str, f: impl FnOnce(&mut Map<String, Value>)) {
        let k = kind(path).expect("known collection");
        let i = self
            .position(k, key)
            .unwrap_or_else(|| panic!("no {path} object {key}"));
        let v = &mut self.objects.get_mut(k.path).expect("coll")[i];
        f(v.as_object_mut().expect("object"));
    }

    /// Test hook: the object of `path` with lookup key `key`, if any.
    pub fn get(&self, path: &str, key: &str) -> Option<Value> {
        let k = kind(path)?;
        self.position(k, key)
            .map(|i| self.present(k, &self.coll(k.path)[i]))
    }

    /// Test hook: the first object of `path` whose `field` equals `value`.
    pub fn get_by(&self, path: &str, field: &str, value: &str) -> Option<Value> {
        let k = kind(path)?;
        self.coll(path)
            .iter()
            .find(|o| o[field].as_str() == Some(value))
            .map(|o| self.present(k, o))
    }

    /// Test hook: all objects of `path`.
    pub fn all(&self, path: &str) -> Vec<Value> {
        self.coll(path).to_vec()
    }

    pub fn dump(&self) -> Value {
        json!(self.objects)
    }

    /// Adds the read-only fields Authentik computes on responses.
    fn present(&self, k: &Kind, obj: &Value) -> Value {
        let mut o = obj.clone();
        if k.path == "providers/proxy" {
            let app = self
                .coll("core/applications")
                .iter()
                .find(|a| a["provider"] == obj["pk"]);
            let outposts: Vec<Value> = self
                .coll("outposts/instances")
                .iter()
                .filter(|op| {
                    op["providers"]
                        .as_array()
                        .is_some_and(|p| p.contains(&obj["pk"]))
                })
                .map(|op| op["pk"].clone())
                .collect();
            let m = o.as_object_mut().expect("object");
            m.insert("component".into(), json!("ak-provider-proxy-form"));
            m.insert(
                "assigned_application_slug".into(),
                app.map(|a| a["slug"].clone()).unwrap_or(Value::Null),
            );
            m.insert(
                "assigned_application_name".into(),
                app.map(|a| a["name"].clone()).unwrap_or(Value::Null),
            );
            m.insert("outpost_set".into(), json!(outposts));
        }
        if k.path == "core/applications" {
            let m = o.as_object_mut().expect("object");
            m.insert("pbm_uuid".into(), obj["pk"].clone());
        }
        o
    }

    /// Handles one API request; `rest` is the path after `/api/v3/`.
    pub fn handle(
        &mut self,
        method: &Method,
        rest: &str,
        query: &str,
        body: Value,
    ) -> (StatusCode, Value) {
        let rest = rest.trim_end_matches('/');
        let (coll_path, key) = match rest.rsplit_once('/') {
            Some((head, tail)) if kind(rest).is_none() => (head, Some(tail)),
            _ => (rest, None),
        };
        let Some(k) = kind(coll_path) else {
            return err(StatusCode::NOT_FOUND, "Not found.");
        };
        match (method.as_str(), key) {
            ("GET", None) => (StatusCode::OK, self.list(k, query)),
            ("POST", None) => self.create(k, body),
            ("GET", Some(key)) => match self.position(k, key) {
                Some(i) => (StatusCode::OK, self.present(k, &self.coll(k.path)[i])),
                None => err(StatusCode::NOT_FOUND, "No object found matching the query."),
            },
            ("PUT", Some(key)) => self.update(k, key, body, false),
            ("PATCH", Some(key)) => self.update(k, key, body, true),
            ("DELETE", Some(key)) => self.delete(k, key),
            _ => err(
                StatusCode::METHOD_NOT_ALLOWED,
                &format!("Method \"{method}\" not allowed."),
            ),
        }
    }

    fn list(&self, k: &Kind, query: &str) -> Value {
        let mut page = 1usize;
        let mut page_size = PAGE_SIZE;
        let mut filters = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (name, val) = pair.split_once('=').unwrap_or((pair, ""));
            let val = percent_decode(val);
            match name {
                "page" => page = val.parse().unwrap_or(1).max(1),
                "page_size" => page_size = val.parse().unwrap_or(PAGE_SIZE).clamp(1, 1000),
                "ordering" | "search" => {}
                // Authentik's filter names for the primary key.
                "flow_uuid" | "pbm_uuid" | "policy_uuid" | "group_uuid" | "uuid" => {
                    filters.push(("pk".to_string(), val))
                }
                _ => filters.push((name.to_string(), val)),
            }
        }
        let matching: Vec<Value> = self
            .coll(k.path)
            .iter()
            .filter(|o| {
                filters.iter().all(|(f, v)| match &o[f.as_str()] {
                    Value::Array(items) => items.iter().any(|i| &key_text(i) == v),
                    Value::Null => v.is_empty(),
                    other => &key_text(other) == v,
                })
            })
            .map(|o| self.present(k, o))
            .collect();
        let count = matching.len();
        let total_pages = count.div_ceil(page_size).max(1);
        let start = (page - 1) * page_size;
        let results: Vec<Value> = matching.into_iter().skip(start).take(page_size).collect();
        let n = results.len();
        json!({
            "pagination": {
                "next": if page < total_pages { page + 1 } else { 0 },
                "previous": page.saturating_sub(1),
                "count": count,
                "current": page,
                "total_pages": total_pages,
                "start_index": if n == 0 { 0 } else { start + 1 },
                "end_index": start + n,
            },
            "results": results,
        })
    }

    fn check(
        &self,
        k: &Kind,
        obj: &Map<String, Value>,
        self_pk: Option<&Value>,
    ) -> Result<(), (StatusCode, Value)> {
        for (_, field, target) in REFS.iter().filter(|r| r.0 == k.path) {
            let vals: Vec<&Value> = match obj.get(*field) {
                Some(Value::Array(a)) => a.iter().collect(),
                Some(Value::Null) | None => vec![],
                Some(v) => vec![v],
            };
            for v in vals {
                if !self.exists(target, v) {
                    return Err(field_err(
                        field,
                        format!("Invalid pk \"{}\" - object does not exist.", key_text(v)),
                    ));
                }
            }
        }
        if !k.unique.is_empty() {
            let val = &obj[k.unique];
            if self
                .coll(k.path)
                .iter()
                .any(|o| &o[k.unique] == val && Some(&o["pk"]) != self_pk)
            {
                return Err(field_err(
                    k.unique,
                    format!("{} with this {} already exists.", k.path, k.unique),
                ));
            }
        }
        if k.path == "policies/bindings" {
            let set = ["policy", "group", "user"]
                .iter()
                .filter(|f| !obj[**f].is_null())
                .count();
            if set != 1 {
                return Err((
                    StatusCode::BAD_REQUEST,
                    json!({"non_field_errors": ["Only one of 'policy', 'group' or 'user' can be set."]}),
                ));
            }
        }
        if k.path == "providers/proxy"
            && obj.get("mode").and_then(Value::as_str) == Some("forward_domain")
        {
            let cd = obj
                .get("cookie_domain")
                .and_then(Value::as_str)
                .unwrap_or("");
            if cd.is_empty() {
                return Err(field_err(
                    "cookie_domain",
                    "Cookie domain is required for forward_domain mode.".into(),
                ));
            }
        }
        Ok(())
    }

    fn create(&mut self, k: &Kind, body: Value) -> (StatusCode, Value) {
        let mut obj = match schema::validate(k.fields, &body, false) {
            Ok(o) => o,
            Err(e) => return (StatusCode::BAD_REQUEST, e),
        };
        defaults(k.path, &mut obj);
        if let Err(e) = self.check(k, &obj, None) {
            return e;
        }
        obj.insert("pk".into(), self.new_pk(k.int_pk));
        let v = Value::Object(obj);
        self.objects.entry(k.path).or_default().push(v.clone());
        (StatusCode::CREATED, self.present(k, &v))
    }

    /// PUT and PATCH: last write wins (Authentik has no version check).
    fn update(&mut self, k: &Kind, key: &str, body: Value, partial: bool) -> (StatusCode, Value) {
        let Some(i) = self.position(k, key) else {
            return err(StatusCode::NOT_FOUND, "No object found matching the query.");
        };
        let fields = match schema::validate(k.fields, &body, partial) {
            Ok(o) => o,
            Err(e) => return (StatusCode::BAD_REQUEST, e),
        };
        let mut obj = self.coll(k.path)[i].as_object().expect("object").clone();
        let pk = obj["pk"].clone();
        for (f, v) in fields {
            obj.insert(f, v);
        }
        if let Err(e) = self.check(k, &obj, Some(&pk)) {
            return e;
        }
        let v = Value::Object(obj);
        self.objects.get_mut(k.path).expect("coll")[i] = v.clone();
        (StatusCode::OK, self.present(k, &v))
    }

    fn delete(&mut self, k: &Kind, key: &str) -> (StatusCode, Value) {
        let Some(i) = self.position(k, key) else {
            return err(StatusCode::NOT_FOUND, "No object found matching the query.");
        };
        let gone = self.objects.get_mut(k.path).expect("coll").remove(i);
        let pk = gone["pk"].clone();
        // Cascades Authentik's models do on delete.
        match k.path {
            "providers/proxy" => {
                for op in self.objects.entry("outposts/instances").or_default() {
                    if let Some(p) = op["providers"].as_array_mut() {
                        p.retain(|x| x != &pk);
                    }
                }
                for app in self.objects.entry("core/applications").or_default() {
                    if app["provider"] == pk {
                        app["provider"] = Value::Null;
                    }
                }
            }
            "core/applications" => self.drop_bindings("target", &pk),
            "policies/expression" => self.drop_bindings("policy", &pk),
            "core/groups" => self.drop_bindings("group", &pk),
            "core/users" => self.drop_bindings("user", &pk),
            _ => {}
        }
        (StatusCode::NO_CONTENT, Value::Null)
    }

    fn drop_bindings(&mut self, field: &str, pk: &Value) {
        self.objects
            .entry("policies/bindings")
            .or_default()
            .retain(|b| &b[field] != pk);
    }
}

/// Fills the fields Authentik defaults when a create omits them.
fn defaults(path: &str, m: &mut Map<String, Value>) {
    let d: &[(&str, Value)] = match path {
        "providers/proxy" => &[
            ("mode", json!("proxy")),
            ("cookie_domain", json!("")),
            ("skip_path_regex", json!("")),
            ("internal_host", json!("")),
            ("access_token_validity", json!("hours=24")),
            ("refresh_token_validity", json!("days=30")),
            ("authentication_flow", Value::Null),
            ("certificate", Value::Null),
            ("property_mappings", json!([])),
            ("intercept_header_auth", json!(true)),
            ("basic_auth_enabled", json!(false)),
        ],
        "core/applications" => &[
            ("provider", Value::Null),
            ("backchannel_providers", json!([])),
            ("open_in_new_tab", json!(false)),
            ("meta_launch_url", json!("")),
            ("meta_description", json!("")),
            ("meta_publisher", json!("")),
            ("policy_engine_mode", json!("any")),
            ("group", json!("")),
        ],
        "policies/bindings" => &[
            ("policy", Value::Null),
            ("group", Value::Null),
            ("user", Value::Null),
            ("negate", json!(false)),
            ("enabled", json!(true)),
            ("timeout", json!(30)),
            ("failure_result", json!(false)),
        ],
        "policies/expression" => &[("execution_logging", json!(false))],
        "core/groups" => &[
            ("is_superuser", json!(false)),
            ("parent", Value::Null),
            ("users", json!([])),
            ("attributes", json!({})),
        ],
        "core/users" => &[
            ("is_active", json!(true)),
            ("email", json!("")),
            ("groups", json!([])),
            ("attributes", json!({})),
        ],
        _ => &[],
    };
    for (f, v) in d {
        m.entry(*f).or_insert_with(|| v.clone());
    }
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                match u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("zz"), 16)
                {
                    Ok(v) => {
                        out.push(v);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pagination_shape_and_filters() {
        let mut s = Store::seeded();
        for i in 0..5 {
            s.insert_unchecked("core/groups", json!({"name": format!("g{i}")}));
        }
        let page = s.list(kind("core/groups").unwrap(), "page=2&page_size=4");
        assert_eq!(page["pagination"]["count"], 6);
        assert_eq!(page["pagination"]["total_pages"], 2);
        assert_eq!(page["pagination"]["previous"], 1);
        assert_eq!(page["pagination"]["next"], 0);
        assert_eq!(page["results"].as_array().unwrap().len(), 2);
        let one = s.list(kind("core/groups").unwrap(), "name=g%203");
        assert_eq!(one["pagination"]["count"], 0);
        let one = s.list(kind("core/groups").unwrap(), "name=g3");
        assert_eq!(one["results"][0]["name"], "g3");
    }

    #[test]
    fn deleting_a_provider_detaches_it_from_outposts() {
        let mut s = Store::seeded();
        let flow = s
            .get("flows/instances", "default-provider-invalidation-flow")
            .unwrap()["pk"]
            .clone();
        let (st, p) = s.handle(
            &Method::POST,
            "providers/proxy/",
            "",
            json!({"name": "p", "authorization_flow": flow, "invalidation_flow": flow, "external_host": "https://a.test", "mode": "forward_single"}),
        );
        assert_eq!(st, StatusCode::CREATED, "{p}");
        let op = s.all("outposts/instances")[0]["pk"]
            .as_str()
            .unwrap()
            .to_string();
        let (st, _) = s.handle(
            &Method::PATCH,
            &format!("outposts/instances/{op}/"),
            "",
            json!({"providers": [p["pk"]]}),
        );
        assert_eq!(st, StatusCode::OK);
        let (st, _) = s.handle(
            &Method::DELETE,
            &format!("providers/proxy/{}/", p["pk"]),
            "",
            Value::Null,
        );
        assert_eq!(st, StatusCode::NO_CONTENT);
        assert_eq!(
            s.get("outposts/instances", &op).unwrap()["providers"],
            json!([])
        );
    }

    #[test]
    fn dangling_reference_is_a_field_error() {
        let mut s = Store::seeded();
        let (st, e) = s.handle(
            &Method::POST,
            "core/applications/",
            "",
            json!({"name": "a", "slug": "a", "provider": 999}),
        );
        assert_eq!(st, StatusCode::BAD_REQUEST);
        assert!(
            e["provider"][0]
                .as_str()
                .unwrap()
                .contains("does not exist")
        );
        assert_eq!(percent_decode("a%20b+c"), "a b c");
    }
}

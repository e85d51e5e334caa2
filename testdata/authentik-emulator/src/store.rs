//! The object store behind the emulator: collections of JSON objects, the
//! schema of each, its lookup key, defaults, reference checks, uniqueness,
//! cascades, and the list view (filters, ordering, pagination).

use std::collections::BTreeMap;

use axum::http::{Method, StatusCode};
use serde_json::{Map, Value, json};

use crate::filters::filter_set;
use crate::replies::Include;
use crate::schema::{self, Field};

/// Name of the outpost Authentik creates itself (managed
/// `goauthentik.io/outposts/embedded`).
pub const EMBEDDED_OUTPOST: &str = "authentik Embedded Outpost";
const EMBEDDED_MANAGED: &str = "goauthentik.io/outposts/embedded";

/// `REST_FRAMEWORK["PAGE_SIZE"]` in `authentik/root/settings.py`.
const PAGE_SIZE: usize = 100;

struct Kind {
    /// URL segment after /api/v3/, e.g. "providers/proxy".
    path: &'static str,
    fields: &'static [Field],
    /// Field used in the detail URL (`pk`, or `slug`).
    lookup: &'static str,
    int_pk: bool,
    /// Django's model name, as in "No ProxyProvider matches the given query.".
    model: &'static str,
    /// The unique field and the message its `UniqueValidator` answers.
    unique: Option<(&'static str, &'static str)>,
}

const KINDS: &[Kind] = &[
    Kind {
        path: "providers/proxy",
        fields: schema::PROXY_PROVIDER,
        lookup: "pk",
        int_pk: true,
        model: "ProxyProvider",
        unique: Some(("name", "provider with this name already exists.")),
    },
    Kind {
        path: "core/applications",
        fields: schema::APPLICATION,
        lookup: "slug",
        int_pk: false,
        model: "Application",
        unique: Some(("slug", "Application with this slug already exists.")),
    },
    Kind {
        path: "outposts/instances",
        fields: schema::OUTPOST,
        lookup: "pk",
        int_pk: false,
        model: "Outpost",
        unique: Some(("name", "outpost with this name already exists.")),
    },
    Kind {
        path: "policies/bindings",
        fields: schema::POLICY_BINDING,
        lookup: "pk",
        int_pk: false,
        model: "PolicyBinding",
        unique: None,
    },
    Kind {
        path: "policies/expression",
        fields: schema::EXPRESSION_POLICY,
        lookup: "pk",
        int_pk: false,
        model: "ExpressionPolicy",
        unique: Some(("name", "Policy with this name already exists.")),
    },
    Kind {
        path: "core/groups",
        fields: schema::GROUP,
        lookup: "pk",
        int_pk: false,
        model: "Group",
        // GroupSerializer: `UniqueValidator(Group.objects.all())` on name,
        // DRF's default message (the column is not unique).
        unique: Some(("name", "This field must be unique.")),
    },
    Kind {
        path: "core/users",
        fields: schema::USER,
        lookup: "pk",
        int_pk: true,
        model: "User",
        unique: Some(("username", "A user with that username already exists.")),
    },
    Kind {
        path: "flows/instances",
        fields: schema::FLOW,
        lookup: "slug",
        int_pk: false,
        model: "Flow",
        unique: Some(("slug", "Flow with this slug already exists.")),
    },
];

/// (collection, field, referenced collection) — dangling references are 400s.
const REFS: &[(&str, &str, &str)] = &[
    ("providers/proxy", "authorization_flow", "flows/instances"),
    ("providers/proxy", "invalidation_flow", "flows/instances"),
    ("providers/proxy", "authentication_flow", "flows/instances"),
    ("core/applications", "provider", "providers/proxy"),
    (
        "core/applications",
        "backchannel_providers",
        "providers/proxy",
    ),
    ("outposts/instances", "providers", "providers/proxy"),
    ("policies/bindings", "policy", "policies/expression"),
    ("policies/bindings", "group", "core/groups"),
    ("policies/bindings", "user", "core/users"),
    ("policies/bindings", "target", "core/applications"),
    ("core/groups", "parents", "core/groups"),
    ("core/groups", "users", "core/users"),
    ("core/users", "groups", "core/groups"),
];

/// All collections, keyed by path.
#[derive(Default)]
pub struct Store {
    pub objects: BTreeMap<&'static str, Vec<Value>>,
    /// Request fields the serializers ignored (not in the request schema),
    /// as `METHOD path field`: real Authentik drops them silently; tests
    /// read them to prove a client sends only schema fields.
    pub ignored_fields: Vec<String>,
    /// Request fields whose value the serializer changed on the way in
    /// (white space stripped, `"1"` read as 1, ...), as `METHOD path field`:
    /// what Authentik stores differs from what was sent, so a client
    /// comparing its configuration with what it reads back sees drift.
    pub coerced_fields: Vec<String>,
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

/// A fixed instant for the timestamps the emulator reports (RFC 3339).
const NOW: &str = "2026-01-01T00:00:00.000000Z";

/// `{"key": "value"}` pairs of a query string, percent-decoded, in order.
pub fn query_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (name, val) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(name), percent_decode(val))
        })
        .collect()
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
                   "config": {"authentik_host": "", "refresh_interval": "minutes=5"}, "managed": EMBEDDED_MANAGED}),
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

    /// Fields the server sets when an object is made: the primary key,
    /// generated identifiers and timestamps.
    fn on_create(&mut self, k: &Kind, m: &mut Map<String, Value>) {
        let pk = self.new_pk(k.int_pk);
        m.insert("pk".into(), pk.clone());
        match k.path {
            // OAuth2Provider.client_id: 40 random characters.
            "providers/proxy" => {
                let n = pk.as_i64().unwrap_or_default();
                m.entry("client_id")
                    .or_insert_with(|| json!(format!("{:0>40}", format!("emulatorclient{n}"))));
            }
            // Group.num_pk: the group's int32 id.
            "core/groups" => {
                self.next_int += 1;
                m.insert("num_pk".into(), json!(self.next_int));
            }
            "core/users" => {
                let uuid = self.new_pk(false);
                m.insert("uuid".into(), uuid);
                m.insert(
                    "uid".into(),
                    json!(user_uid(pk.as_i64().unwrap_or_default())),
                );
                for t in ["date_joined", "password_change_date", "last_updated"] {
                    m.insert(t.into(), json!(NOW));
                }
            }
            // Flow: its own primary key and the PolicyBindingModel it extends.
            "flows/instances" => {
                let pbm = self.new_pk(false);
                m.insert("policybindingmodel_ptr_id".into(), pbm);
            }
            _ => {}
        }
        defaults(k.path, m);
    }

    /// Inserts without validation (seeding and test setup); returns the
    /// stored object.
    pub fn insert_unchecked(&mut self, path: &str, obj: Value) -> Value {
        let k = kind(path).expect("known collection");
        let mut m = obj.as_object().expect("object").clone();
        self.on_create(k, &mut m);
        let obj = Value::Object(m);
        self.objects.entry(k.path).or_default().push(obj.clone());
        obj
    }

    fn coll(&self, path: &str) -> &[Value] {
        self.objects.get(path).map(Vec::as_slice).unwrap_or(&[])
    }

    /// The stored objects of `path` (as kept, not as presented).
    pub fn all_ref(&self, path: &str) -> &[Value] {
        self.coll(path)
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

    /// Test hook: the object of `path` with lookup key `key`, if any, as
    /// the API presents it.
    pub fn get(&self, path: &str, key: &str) -> Option<Value> {
        let k = kind(path)?;
        self.position(k, key)
            .map(|i| self.present(k.path, &self.coll(k.path)[i], Include::default()))
    }

    /// Test hook: the first object of `path` whose `field` equals `value`.
    pub fn get_by(&self, path: &str, field: &str, value: &str) -> Option<Value> {
        let k = kind(path)?;
        self.coll(path)
            .iter()
            .find(|o| o[field].as_str() == Some(value))
            .map(|o| self.present(k.path, o, Include::default()))
    }

    /// Test hook: all objects of `path` (as stored).
    pub fn all(&self, path: &str) -> Vec<Value> {
        self.coll(path).to_vec()
    }

    pub fn dump(&self) -> Value {
        json!(self.objects)
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
        let params = query_pairs(query);
        let missing = || {
            err(
                StatusCode::NOT_FOUND,
                &format!("No {} matches the given query.", k.model),
            )
        };
        match (method.as_str(), key) {
            ("GET", None) => self.list(k, &params),
            ("POST", None) => self.create(k, body),
            ("GET", Some(key)) => match self.position(k, key) {
                Some(i) => (
                    StatusCode::OK,
                    self.present(k.path, &self.coll(k.path)[i], Include::from_query(&params)),
                ),
                None => missing(),
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

    /// The list view: the FilterSet, search and ordering of the viewset
    /// (`filters.rs`), then Authentik's `Pagination`
    /// (`authentik/api/pagination.py`): `page` (a number, or `last`) and
    /// `page_size` (a positive integer, else the default 100); a page
    /// beyond the last is 404 `Invalid page.`; the reply carries
    /// `pagination`, `results` and `autocomplete`.
    fn list(&self, k: &Kind, params: &[(String, String)]) -> (StatusCode, Value) {
        let set = filter_set(k.path).expect("every kind has a filter set");
        let exists = |coll: &str, v: &str| self.coll(coll).iter().any(|o| key_text(&o["pk"]) == v);
        let referenced = |coll: &str, field: &str, lower: &str| {
            self.coll(coll)
                .iter()
                .filter(|o| key_text(&o[field]).to_lowercase() == lower)
                .map(|o| key_text(&o["pk"]))
                .collect()
        };
        let query = match set.compile(params, &exists, &referenced) {
            Ok(q) => q,
            Err(e) => return (StatusCode::BAD_REQUEST, e),
        };
        let inc = Include::from_query(params);
        let mut matching: Vec<Value> = self
            .coll(k.path)
            .iter()
            .map(|o| self.present(k.path, o, inc))
            .filter(|o| query.keeps(o))
            .collect();
        set.sort(params, &mut matching);
        let last = |name: &str| {
            params
                .iter()
                .rev()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
        };
        let page_size = last("page_size")
            .and_then(|v| v.parse::<usize>().ok())
            .filter(|n| *n > 0)
            .unwrap_or(PAGE_SIZE);
        let count = matching.len();
        let total_pages = count.div_ceil(page_size).max(1);
        let page = match last("page") {
            None => 1,
            Some("last") => total_pages,
            Some(v) => match v.parse::<i64>() {
                Ok(n) if n >= 1 && (n as usize) <= total_pages => n as usize,
                _ => return err(StatusCode::NOT_FOUND, "Invalid page."),
            },
        };
        let start = (page - 1) * page_size;
        let results: Vec<Value> = matching.into_iter().skip(start).take(page_size).collect();
        let n = results.len();
        (
            StatusCode::OK,
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
                "autocomplete": {},
            }),
        )
    }

    fn check(
        &self,
        k: &Kind,
        obj: &Map<String, Value>,
        sent: &Map<String, Value>,
        prior: Option<&Map<String, Value>>,
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
        if let Some((field, message)) = k.unique {
            let val = &obj[field];
            let self_pk = prior.map(|p| &p["pk"]);
            if self
                .coll(k.path)
                .iter()
                .any(|o| &o[field] == val && Some(&o["pk"]) != self_pk)
            {
                return Err(field_err(field, message.into()));
            }
        }
        if k.path == "outposts/instances" {
            self.check_outpost(obj, sent, prior)?;
        }
        Ok(())
    }

    /// `OutpostSerializer.validate_name` / `validate_providers`
    /// (`authentik/outposts/api/outposts.py`): the embedded outpost keeps
    /// its name and may have no providers; any other needs one; a typed
    /// request's providers must be of that type (all emulated providers
    /// are proxy providers).
    fn check_outpost(
        &self,
        obj: &Map<String, Value>,
        sent: &Map<String, Value>,
        prior: Option<&Map<String, Value>>,
    ) -> Result<(), (StatusCode, Value)> {
        let embedded = prior.is_some_and(|p| p["managed"] == EMBEDDED_MANAGED);
        if embedded
            && let Some(name) = sent.get("name")
            && name != EMBEDDED_OUTPOST
        {
            return Err(field_err(
                "name",
                "Embedded outpost's name cannot be changed".into(),
            ));
        }
        if let Some(providers) = sent.get("providers").and_then(Value::as_array) {
            if let Some(t) = sent.get("type").and_then(Value::as_str)
                && t != "proxy"
                && !providers.is_empty()
            {
                return Err(field_err(
                    "providers",
                    format!("Outpost type {t} can't be used with ProxyProvider providers."),
                ));
            }
            if !embedded && providers.is_empty() {
                return Err(field_err("providers", "This list may not be empty.".into()));
            }
        }
        let _ = obj;
        Ok(())
    }

    /// Validation shared by create, PUT and PATCH: field rules, the
    /// serializer's cross-field rules on what was sent, durations Python
    /// cannot represent (an uncaught `OverflowError`: 500).
    fn validated(
        &mut self,
        k: &Kind,
        method: &str,
        body: &Value,
        partial: bool,
    ) -> Result<Map<String, Value>, (StatusCode, Value)> {
        let checked =
            schema::validate(k.fields, body, partial).map_err(|e| (StatusCode::BAD_REQUEST, e))?;
        for f in &checked.ignored {
            self.ignored_fields.push(format!("{method} {} {f}", k.path));
        }
        for f in &checked.coerced {
            self.coerced_fields.push(format!("{method} {} {f}", k.path));
        }
        schema::cross_field(k.path, &checked.fields).map_err(|e| match e {
            Value::Null => err(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error"),
            e => (StatusCode::BAD_REQUEST, e),
        })?;
        for field in k.fields.iter().filter(|f| f.kind == schema::Kind::Duration) {
            if let Some(text) = checked.fields.get(field.name).and_then(Value::as_str)
                && schema::duration_seconds(text) == Err(schema::DurationError::Overflow)
            {
                return Err(err(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "OverflowError in timedelta_from_string",
                ));
            }
        }
        Ok(checked.fields)
    }

    fn create(&mut self, k: &Kind, body: Value) -> (StatusCode, Value) {
        let sent = match self.validated(k, "POST", &body, false) {
            Ok(o) => o,
            Err(e) => return e,
        };
        let mut obj = sent.clone();
        defaults(k.path, &mut obj);
        if let Err(e) = self.check(k, &obj, &sent, None) {
            return e;
        }
        self.on_create(k, &mut obj);
        let v = Value::Object(obj);
        self.objects.entry(k.path).or_default().push(v.clone());
        (
            StatusCode::CREATED,
            self.present(k.path, &v, Include::default()),
        )
    }

    /// PUT and PATCH: last write wins (Authentik has no version check).
    fn update(&mut self, k: &Kind, key: &str, body: Value, partial: bool) -> (StatusCode, Value) {
        let Some(i) = self.position(k, key) else {
            return err(
                StatusCode::NOT_FOUND,
                &format!("No {} matches the given query.", k.model),
            );
        };
        let method = if partial { "PATCH" } else { "PUT" };
        let sent = match self.validated(k, method, &body, partial) {
            Ok(o) => o,
            Err(e) => return e,
        };
        let prior = self.coll(k.path)[i].as_object().expect("object").clone();
        let mut obj = prior.clone();
        for (f, v) in &sent {
            obj.insert(f.clone(), v.clone());
        }
        if let Err(e) = self.check(k, &obj, &sent, Some(&prior)) {
            return e;
        }
        let v = Value::Object(obj);
        self.objects.get_mut(k.path).expect("coll")[i] = v.clone();
        (StatusCode::OK, self.present(k.path, &v, Include::default()))
    }

    fn delete(&mut self, k: &Kind, key: &str) -> (StatusCode, Value) {
        let Some(i) = self.position(k, key) else {
            return err(
                StatusCode::NOT_FOUND,
                &format!("No {} matches the given query.", k.model),
            );
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
                    if let Some(b) = app["backchannel_providers"].as_array_mut() {
                        b.retain(|x| x != &pk);
                    }
                }
            }
            "core/applications" => self.drop_bindings("target", &pk),
            "policies/expression" => self.drop_bindings("policy", &pk),
            "core/groups" => {
                self.drop_bindings("group", &pk);
                for coll in ["core/groups", "core/users"] {
                    let field = if coll == "core/groups" {
                        "parents"
                    } else {
                        "groups"
                    };
                    for o in self.objects.entry(coll).or_default() {
                        if let Some(l) = o[field].as_array_mut() {
                            l.retain(|x| x != &pk);
                        }
                    }
                }
            }
            "core/users" => {
                self.drop_bindings("user", &pk);
                for g in self.objects.entry("core/groups").or_default() {
                    if let Some(l) = g["users"].as_array_mut() {
                        l.retain(|x| x != &pk);
                    }
                }
            }
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

/// `User.uid`: SHA-256 (hex) of `{install_id}-{pk}`; the emulator's
/// install id is fixed.
fn user_uid(pk: i64) -> String {
    let d = aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        format!("emulator-install-id-{pk}").as_bytes(),
    );
    hex::encode(d.as_ref())
}

/// Fills the fields Authentik defaults when a create omits them (the model
/// fields' defaults).
fn defaults(path: &str, m: &mut Map<String, Value>) {
    let d: &[(&str, Value)] = match path {
        "providers/proxy" => &[
            ("mode", json!("proxy")),
            ("cookie_domain", json!("")),
            ("skip_path_regex", json!("")),
            ("internal_host", json!("")),
            ("internal_host_ssl_validation", json!(true)),
            ("access_token_validity", json!("hours=24")),
            ("refresh_token_validity", json!("days=30")),
            ("authentication_flow", Value::Null),
            ("certificate", Value::Null),
            ("property_mappings", json!([])),
            ("intercept_header_auth", json!(true)),
            ("basic_auth_enabled", json!(false)),
            ("basic_auth_password_attribute", json!("")),
            ("basic_auth_user_attribute", json!("")),
            ("jwt_federation_sources", json!([])),
            ("jwt_federation_providers", json!([])),
        ],
        "core/applications" => &[
            ("provider", Value::Null),
            ("backchannel_providers", json!([])),
            ("open_in_new_tab", json!(false)),
            ("meta_launch_url", json!("")),
            ("meta_icon", Value::Null),
            ("meta_description", json!("")),
            ("meta_publisher", json!("")),
            ("policy_engine_mode", json!("any")),
            ("group", json!("")),
        ],
        "outposts/instances" => &[
            ("service_connection", Value::Null),
            ("managed", Value::Null),
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
            ("parents", json!([])),
            ("users", json!([])),
            ("attributes", json!({})),
            ("roles", json!([])),
        ],
        "core/users" => &[
            ("is_active", json!(true)),
            ("email", json!("")),
            ("groups", json!([])),
            ("roles", json!([])),
            ("attributes", json!({})),
            ("path", json!("users")),
            ("type", json!("internal")),
            ("last_login", Value::Null),
        ],
        "flows/instances" => &[
            ("background", json!("")),
            ("policy_engine_mode", json!("any")),
            ("compatibility_mode", json!(false)),
            ("layout", json!("stacked")),
            ("denied_action", json!("message_continue")),
            ("authentication", json!("none")),
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
    fn pagination_shape_filters_and_ignored_parameters() {
        let mut s = Store::seeded();
        for i in 0..5 {
            s.insert_unchecked("core/groups", json!({"name": format!("g{i}")}));
        }
        let list = |s: &Store, q: &str| s.list(kind("core/groups").unwrap(), &query_pairs(q));
        let (_, page) = list(&s, "page=2&page_size=4");
        assert_eq!(page["pagination"]["count"], 6);
        assert_eq!(page["pagination"]["total_pages"], 2);
        assert_eq!(page["pagination"]["previous"], 1);
        assert_eq!(page["pagination"]["next"], 0);
        assert_eq!(page["autocomplete"], json!({}));
        assert_eq!(page["results"].as_array().unwrap().len(), 2);
        let (_, one) = list(&s, "name=g%203");
        assert_eq!(one["pagination"]["count"], 0);
        let (_, one) = list(&s, "name=g3");
        assert_eq!(one["results"][0]["name"], "g3");
        // Undeclared parameters and empty values filter nothing.
        let (_, all) = list(&s, "bogus=1&name=&num_pk=3");
        assert_eq!(all["pagination"]["count"], 6);
        // Ordered by name, as GroupViewSet.ordering.
        assert_eq!(all["results"][0]["name"], "authentik Admins");
        // A page past the last is Django's EmptyPage: 404.
        let (st, e) = list(&s, "page=3&page_size=4");
        assert_eq!(st, StatusCode::NOT_FOUND);
        assert_eq!(e["detail"], "Invalid page.");
        let (_, last) = list(&s, "page=last&page_size=4");
        assert_eq!(last["pagination"]["current"], 2);
        // outposts/instances has name__iexact, not name.
        s.insert_unchecked(
            "outposts/instances",
            json!({"name": "other", "type": "proxy", "providers": [], "config": {}}),
        );
        let outposts = |q: &str| {
            s.list(kind("outposts/instances").unwrap(), &query_pairs(q))
                .1
        };
        assert_eq!(outposts("name=other")["pagination"]["count"], 2);
        assert_eq!(outposts("name__iexact=OTHER")["pagination"]["count"], 1);
    }

    #[test]
    fn model_choice_filters_refuse_unknown_objects() {
        let s = Store::seeded();
        let (st, e) = s.list(
            kind("policies/bindings").unwrap(),
            &query_pairs("target=6a1b0c2d-3e4f-4a5b-8c6d-0000000fffff"),
        );
        assert_eq!(st, StatusCode::BAD_REQUEST);
        assert!(
            e["target"][0]
                .as_str()
                .unwrap()
                .starts_with("Select a valid choice.")
        );
        let (st, e) = s.list(kind("policies/bindings").unwrap(), &query_pairs("order=x"));
        assert_eq!(st, StatusCode::BAD_REQUEST);
        assert_eq!(e["order"][0], "Enter a number.");
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
        assert_eq!(p["verbose_name"], "Proxy Provider");
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
        assert_eq!(
            s.get("outposts/instances", &op).unwrap()["providers_obj"],
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

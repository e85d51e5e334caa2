//! The list views' query parameters as Authentik's FilterSets, search and
//! ordering treat them. A parameter the view does not declare is ignored
//! (django-filter only reads its declared filters), and so is an empty
//! value (`EMPTY_VALUES`): `outposts/instances/?name=x` lists every outpost,
//! the name filter being `name__iexact`. Each set cites its viewset.

use std::cmp::Ordering;

use serde_json::{Value, json};

/// How one declared filter matches the presented object.
#[derive(Clone, Copy)]
enum How {
    /// Case-sensitive equality of the field's text (`CharFilter`, `exact`).
    Exact,
    /// `__iexact`.
    IExact,
    /// `__icontains`.
    IContains,
    /// `BooleanFilter`: `true`/`false` (any case); other values do not filter.
    Bool,
    /// `NumberFilter`: an integer, else 400 "Enter a number.".
    Number,
    /// `UUIDFilter`: a UUID, else 400 "Enter a valid UUID.".
    Uuid,
    /// `__isnull` on the field (true: null or an empty list).
    IsNull,
    /// `ModelChoiceFilter`: a primary key of an existing object of the
    /// collection, else 400 "Select a valid choice…".
    Choice(&'static str),
    /// `ModelMultipleChoiceFilter`: every value a primary key of the
    /// collection; matches when the field (or list field) holds any of them.
    Multiple(&'static str),
    /// Equality (`iexact`) with a field of the referenced object
    /// (`authorization_flow__slug__iexact`).
    Via(&'static str, &'static str),
}

struct Filter {
    param: &'static str,
    field: &'static str,
    how: How,
}

const fn fl(param: &'static str, field: &'static str, how: How) -> Filter {
    Filter { param, field, how }
}

/// One list view's filters, `search_fields` and default `ordering`.
pub struct FilterSet {
    filters: &'static [Filter],
    search: &'static [&'static str],
    ordering: &'static [&'static str],
}

/// `ProxyProviderViewSet.filterset_fields` (`authentik/providers/proxy/api.py`).
const PROXY: FilterSet = FilterSet {
    filters: &[
        fl(
            "application__isnull",
            "assigned_application_slug",
            How::IsNull,
        ),
        fl("name__iexact", "name", How::IExact),
        fl(
            "authorization_flow__slug__iexact",
            "authorization_flow",
            How::Via("flows/instances", "slug"),
        ),
        fl("internal_host__iexact", "internal_host", How::IExact),
        fl("external_host__iexact", "external_host", How::IExact),
        fl("skip_path_regex__iexact", "skip_path_regex", How::IExact),
        fl(
            "basic_auth_password_attribute__iexact",
            "basic_auth_password_attribute",
            How::IExact,
        ),
        fl(
            "basic_auth_user_attribute__iexact",
            "basic_auth_user_attribute",
            How::IExact,
        ),
        fl("mode__iexact", "mode", How::IExact),
        fl("cookie_domain__iexact", "cookie_domain", How::IExact),
    ],
    search: &["name"],
    ordering: &["name"],
};

/// `ApplicationViewSet.filterset_fields` (`authentik/core/api/applications.py`).
const APPLICATIONS: FilterSet = FilterSet {
    filters: &[
        fl("name", "name", How::Exact),
        fl("slug", "slug", How::Exact),
        fl("meta_launch_url", "meta_launch_url", How::Exact),
        fl("meta_description", "meta_description", How::Exact),
        fl("meta_publisher", "meta_publisher", How::Exact),
        fl("group", "group", How::Exact),
    ],
    search: &[
        "name",
        "slug",
        "meta_launch_url",
        "meta_description",
        "meta_publisher",
        "group",
    ],
    ordering: &["name"],
};

/// `OutpostFilter` (`authentik/outposts/api/outposts.py`).
const OUTPOSTS: FilterSet = FilterSet {
    filters: &[
        fl("providers__isnull", "providers", How::IsNull),
        fl(
            "providers_by_pk",
            "providers",
            How::Multiple("providers/proxy"),
        ),
        fl("name__iexact", "name", How::IExact),
        fl("name__icontains", "name", How::IContains),
        fl("managed__iexact", "managed", How::IExact),
        fl("managed__icontains", "managed", How::IContains),
    ],
    search: &["name"],
    ordering: &["name"],
};

/// `PolicyBindingFilter` (`authentik/policies/api/bindings.py`); the
/// binding targets the emulator models are applications.
const BINDINGS: FilterSet = FilterSet {
    filters: &[
        fl("policy", "policy", How::Choice("policies/expression")),
        fl("policy__isnull", "policy", How::IsNull),
        fl("target", "target", How::Choice("core/applications")),
        fl("target_in", "target", How::Multiple("core/applications")),
        fl("enabled", "enabled", How::Bool),
        fl("order", "order", How::Number),
        fl("timeout", "timeout", How::Number),
    ],
    search: &[],
    ordering: &["target", "order"],
};

/// `ExpressionPolicyViewSet.filterset_fields = "__all__"`
/// (`authentik/policies/expression/api.py`): every model field, exact.
const EXPRESSIONS: FilterSet = FilterSet {
    filters: &[
        fl("policy_uuid", "pk", How::Uuid),
        fl("name", "name", How::Exact),
        fl("execution_logging", "execution_logging", How::Bool),
        fl("expression", "expression", How::Exact),
    ],
    search: &["name"],
    ordering: &["name"],
};

/// `GroupFilter` (`authentik/core/api/groups.py`), the filters the
/// emulator can answer.
const GROUPS: FilterSet = FilterSet {
    filters: &[
        fl("name", "name", How::Exact),
        fl("is_superuser", "is_superuser", How::Bool),
        fl("members_by_pk", "users", How::Multiple("core/users")),
    ],
    search: &["name", "is_superuser"],
    ordering: &["name"],
};

/// `UsersFilter` (`authentik/core/api/users.py`), the filters the emulator
/// can answer.
const USERS: FilterSet = FilterSet {
    filters: &[
        fl("username", "username", How::Exact),
        fl("email", "email", How::Exact),
        fl("name", "name", How::Exact),
        fl("path", "path", How::Exact),
        fl("is_active", "is_active", How::Bool),
        fl("is_superuser", "is_superuser", How::Bool),
        fl("uuid", "uuid", How::Uuid),
        fl("type", "type", How::Exact),
        fl("groups_by_pk", "groups", How::Multiple("core/groups")),
    ],
    search: &["username", "name", "email"],
    ordering: &["username"],
};

/// `FlowViewSet.filterset_fields` (`authentik/flows/api/flows.py`).
const FLOWS: FilterSet = FilterSet {
    filters: &[
        fl("flow_uuid", "pk", How::Uuid),
        fl("name", "name", How::Exact),
        fl("slug", "slug", How::Exact),
        fl("designation", "designation", How::Exact),
    ],
    search: &["name", "slug", "designation", "title"],
    ordering: &["slug"],
};

pub fn filter_set(path: &str) -> Option<&'static FilterSet> {
    Some(match path {
        "providers/proxy" => &PROXY,
        "core/applications" => &APPLICATIONS,
        "outposts/instances" => &OUTPOSTS,
        "policies/bindings" => &BINDINGS,
        "policies/expression" => &EXPRESSIONS,
        "core/groups" => &GROUPS,
        "core/users" => &USERS,
        "flows/instances" => &FLOWS,
        _ => return None,
    })
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn choice_error(param: &str, value: Option<&str>) -> Value {
    let msg = match value {
        None => "Select a valid choice. That choice is not one of the available choices.".into(),
        Some(v) => format!("Select a valid choice. {v} is not one of the available choices."),
    };
    json!({ param: [msg] })
}

/// A compiled query: the predicates to keep an object, or the 400 body
/// django-filter answers for an invalid value.
pub struct Query {
    keep: Vec<Predicate>,
}

/// Whether an object passes one filter.
type Predicate = Box<dyn Fn(&Value) -> bool>;

impl Query {
    pub fn keeps(&self, obj: &Value) -> bool {
        self.keep.iter().all(|k| k(obj))
    }
}

impl FilterSet {
    /// Reads `params` (decoded, in order). `exists(coll, value)` says
    /// whether an object of `coll` has that primary key;
    /// `referenced(coll, field, lower)` lists the primary keys of the
    /// objects of `coll` whose `field` is `lower` in lower case.
    pub fn compile(
        &self,
        params: &[(String, String)],
        exists: &dyn Fn(&str, &str) -> bool,
        referenced: &dyn Fn(&str, &str, &str) -> Vec<String>,
    ) -> Result<Query, Value> {
        let mut keep: Vec<Predicate> = Vec::new();
        let last = |name: &str| {
            params
                .iter()
                .rev()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        };
        for f in self.filters {
            let field = f.field;
            if let How::Multiple(coll) = f.how {
                let values: Vec<String> = params
                    .iter()
                    .filter(|(k, v)| k == f.param && !v.is_empty())
                    .map(|(_, v)| v.clone())
                    .collect();
                if values.is_empty() {
                    continue;
                }
                if let Some(bad) = values.iter().find(|v| !exists(coll, v)) {
                    return Err(choice_error(f.param, Some(bad)));
                }
                keep.push(Box::new(move |o: &Value| match &o[field] {
                    Value::Array(items) => items.iter().any(|i| values.contains(&text(i))),
                    v => values.contains(&text(v)),
                }));
                continue;
            }
            let Some(value) = last(f.param).filter(|v| !v.is_empty()) else {
                continue;
            };
            match f.how {
                How::Exact => keep.push(Box::new(move |o| text(&o[field]) == value)),
                How::IExact => {
                    let want = value.to_lowercase();
                    keep.push(Box::new(move |o| text(&o[field]).to_lowercase() == want));
                }
                How::IContains => {
                    let want = value.to_lowercase();
                    keep.push(Box::new(move |o| {
                        text(&o[field]).to_lowercase().contains(&want)
                    }));
                }
                How::Bool => {
                    let want = match value.to_lowercase().as_str() {
                        "true" => true,
                        "false" => false,
                        _ => continue,
                    };
                    keep.push(Box::new(move |o| o[field].as_bool() == Some(want)));
                }
                How::Number => {
                    let Ok(n) = value.trim().parse::<i64>() else {
                        return Err(json!({ f.param: ["Enter a number."] }));
                    };
                    keep.push(Box::new(move |o| o[field].as_i64() == Some(n)));
                }
                How::Uuid => {
                    if !crate::schema::is_uuid(&value) {
                        return Err(json!({ f.param: ["Enter a valid UUID."] }));
                    }
                    let want = value.to_lowercase();
                    keep.push(Box::new(move |o| text(&o[field]).to_lowercase() == want));
                }
                How::IsNull => {
                    let want = match value.to_lowercase().as_str() {
                        "true" => true,
                        "false" => false,
                        _ => continue,
                    };
                    keep.push(Box::new(move |o| {
                        let null = match &o[field] {
                            Value::Null => true,
                            Value::Array(a) => a.is_empty(),
                            _ => false,
                        };
                        null == want
                    }));
                }
                How::Choice(coll) => {
                    if !exists(coll, &value) {
                        return Err(choice_error(f.param, None));
                    }
                    keep.push(Box::new(move |o| text(&o[field]) == value));
                }
                How::Via(coll, other) => {
                    let pks = referenced(coll, other, &value.to_lowercase());
                    keep.push(Box::new(move |o| pks.contains(&text(&o[field]))));
                }
                How::Multiple(_) => unreachable!("handled above"),
            }
        }
        if let Some(term) = last("search").filter(|v| !v.is_empty()) {
            let terms: Vec<String> = term
                .replace('\0', "")
                .split([' ', ','])
                .filter(|t| !t.is_empty())
                .map(str::to_lowercase)
                .collect();
            let fields = self.search;
            if !fields.is_empty() {
                keep.push(Box::new(move |o| {
                    terms.iter().all(|t| {
                        fields
                            .iter()
                            .any(|f| text(&o[*f]).to_lowercase().contains(t.as_str()))
                    })
                }));
            }
        }
        Ok(Query { keep })
    }

    /// Sorts by `?ordering=` (comma-separated reply fields, `-` descending;
    /// unknown fields dropped as DRF's `OrderingFilter` does), else by the
    /// view's default ordering.
    pub fn sort(&self, params: &[(String, String)], objs: &mut [Value]) {
        let asked: Vec<(String, bool)> = params
            .iter()
            .rev()
            .find(|(k, _)| k == "ordering")
            .map(|(_, v)| {
                v.split(',')
                    .map(str::trim)
                    .filter(|f| !f.is_empty())
                    .map(|f| match f.strip_prefix('-') {
                        Some(name) => (name.to_string(), true),
                        None => (f.to_string(), false),
                    })
                    .filter(|(name, _)| objs.first().is_none_or(|o| o.get(name).is_some()))
                    .collect()
            })
            .unwrap_or_default();
        let keys: Vec<(String, bool)> = if asked.is_empty() {
            self.ordering
                .iter()
                .map(|f| (f.to_string(), false))
                .collect()
        } else {
            asked
        };
        objs.sort_by(|a, b| {
            for (k, desc) in &keys {
                let o = compare(&a[k.as_str()], &b[k.as_str()]);
                let o = if *desc { o.reverse() } else { o };
                if o != Ordering::Equal {
                    return o;
                }
            }
            Ordering::Equal
        });
    }
}

fn compare(a: &Value, b: &Value) -> Ordering {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x.partial_cmp(&y).unwrap_or(Ordering::Equal),
        _ => text(a).cmp(&text(b)),
    }
}

//! The data sources: each is a schema, the checks on its inputs, and a read
//! function over [`Db`]. Inputs are validated at plan time (with the
//! attribute path) and again at read time, before anything reaches SQL.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use tfplugin::diag::{Diagnostic, Diagnostics};
use tfplugin::provider::{Ctx, DataSource};
use tfplugin::schema::{Attribute, Schema};
use tfplugin::value::{AttrPath, Type, Value};

use crate::provider::Shared;
use crate::trail::{Db, DbError, Edge, EdgeFilter};
use crate::validate;

/// A check applied to one input attribute.
#[derive(Clone, Copy)]
pub enum Check {
    Namespace(&'static str),
    NamespaceSet(&'static str),
    Action(&'static str),
    Duration(&'static str),
    Since(&'static str),
    Limit(&'static str),
}

/// Runs `checks` on `config`; unknown values are skipped (checked again at read).
pub fn check(config: &Value, checks: &[Check]) -> Diagnostics {
    let mut diags = Diagnostics::default();
    let mut fail = |attr: &str, summary: &str, detail: String| {
        diags.push(Diagnostic::error(summary, &detail).at(AttrPath::root().attr(attr)));
    };
    for c in checks {
        match *c {
            Check::Namespace(a) => {
                if let Some(s) = config.get(a).as_str()
                    && let Err(e) = validate::namespace(s)
                {
                    fail(a, "Invalid namespace name", e);
                }
            }
            Check::NamespaceSet(a) => {
                for v in config.get(a).as_list().unwrap_or(&[]) {
                    if let Some(s) = v.as_str()
                        && let Err(e) = validate::namespace(s)
                    {
                        fail(a, "Invalid namespace name", e);
                    }
                }
            }
            Check::Action(a) => {
                if let Some(s) = config.get(a).as_str()
                    && let Err(e) = validate::action(s)
                {
                    fail(a, "Invalid action", e);
                }
            }
            Check::Duration(a) => {
                if let Some(s) = config.get(a).as_str()
                    && let Err(e) = validate::duration(s)
                {
                    fail(a, "Invalid duration", e);
                }
            }
            Check::Since(a) => {
                if let Some(s) = config.get(a).as_str()
                    && let Err(e) = validate::since(s)
                {
                    fail(a, "Invalid time bound", e);
                }
            }
            Check::Limit(a) => {
                if let Value::Number(n) = config.get(a)
                    && !matches!(n.as_i64(), Some(1..=100_000))
                {
                    fail(
                        a,
                        "Invalid limit",
                        format!("limit {n} is not a whole number in 1-100000"),
                    );
                }
            }
        }
    }
    diags
}

/// What one data source is.
struct Spec {
    name: &'static str,
    schema: fn() -> Schema,
    checks: &'static [Check],
    read: fn(&Db, &Value) -> Result<Value, Diagnostics>,
}

struct Ds {
    spec: Spec,
    shared: Arc<Shared>,
}

impl DataSource for Ds {
    fn type_name(&self) -> &'static str {
        self.spec.name
    }
    fn schema(&self) -> Schema {
        (self.spec.schema)()
    }
    fn validate(&self, config: &Value) -> Diagnostics {
        check(config, self.spec.checks)
    }
    fn read(&self, ctx: &Ctx, config: &Value) -> Result<Value, Diagnostics> {
        let diags = check(config, self.spec.checks);
        if diags.has_errors() {
            return Err(diags);
        }
        ctx.check_stopped()?;
        let db = self.shared.db()?;
        (self.spec.read)(&db, config)
    }
}

/// Every data source of the provider.
pub fn all(shared: &Arc<Shared>) -> Vec<Arc<dyn DataSource>> {
    [
        Spec {
            name: "goldmane_egress_allowlist",
            schema: allowlist_schema,
            checks: &[
                Check::Namespace("namespace"),
                Check::Action("action"),
                Check::Duration("seen_within"),
                Check::Duration("min_observation"),
                Check::NamespaceSet("exclude"),
            ],
            read: allowlist_read,
        },
        Spec {
            name: "goldmane_egress_matrix",
            schema: matrix_schema,
            checks: &[
                Check::Action("action"),
                Check::Duration("seen_within"),
                Check::Duration("min_observation"),
                Check::NamespaceSet("exclude"),
            ],
            read: matrix_read,
        },
        Spec {
            name: "goldmane_edges",
            schema: edges_schema,
            checks: &[
                Check::Namespace("namespace"),
                Check::Namespace("src"),
                Check::Namespace("dst"),
                Check::Action("action"),
                Check::Since("first_seen_since"),
                Check::Limit("limit"),
            ],
            read: edges_read,
        },
        Spec {
            name: "goldmane_ingress_sources",
            schema: ingress_schema,
            checks: &[
                Check::Namespace("namespace"),
                Check::Action("action"),
                Check::Duration("seen_within"),
            ],
            read: ingress_read,
        },
        Spec {
            name: "goldmane_peers",
            schema: peers_schema,
            checks: &[Check::Namespace("namespace"), Check::Action("action")],
            read: peers_read,
        },
        Spec {
            name: "goldmane_denied_edges",
            schema: denied_schema,
            checks: &[
                Check::Namespace("namespace"),
                Check::Duration("seen_within"),
            ],
            read: denied_read,
        },
        Spec {
            name: "goldmane_new_edges",
            schema: new_edges_schema,
            checks: &[
                Check::Duration("within"),
                Check::Action("action"),
                Check::Namespace("namespace"),
            ],
            read: new_edges_read,
        },
        Spec {
            name: "goldmane_trail_status",
            schema: status_schema,
            checks: &[],
            read: status_read,
        },
    ]
    .into_iter()
    .map(|spec| {
        Arc::new(Ds {
            spec,
            shared: shared.clone(),
        }) as Arc<dyn DataSource>
    })
    .collect()
}

// ---- shared schema pieces and conversions ---------------------------------

fn id_attr() -> Attribute {
    Attribute::new("id", Type::String)
        .computed()
        .description("A stable identifier of the query (its inputs).")
}

fn namespace_attr(md: &str) -> Attribute {
    Attribute::new("namespace", Type::String)
        .required()
        .description(md)
}

fn action_attr(default_allow: bool) -> Attribute {
    let a = Attribute::new("action", Type::String);
    if default_allow {
        a.optional()
            .computed()
            .description("Edge action: `allow` (default), `deny`, `pass` or `unspecified`.")
    } else {
        a.optional()
            .description("Only edges with this action (`allow`, `deny`, `pass`, `unspecified`); all actions when unset.")
    }
}

fn seen_within_attr() -> Attribute {
    Attribute::new("seen_within", Type::String).optional().description(
        "Drop edges whose `last_seen` is older than this duration (e.g. `30d`). Edges are never pruned from the table, so without it an edge of a decommissioned workload stays forever.",
    )
}

fn min_observation_attr() -> Attribute {
    Attribute::new("min_observation", Type::String).optional().description(
        "Fail unless the trail's oldest `first_seen` is at least this old (e.g. `7d`; `14d` for namespaces with weekly CronJobs). An edge exists only once its traffic was observed.",
    )
}

fn exclude_attr(md: &str) -> Attribute {
    Attribute::new("exclude", Type::set(Type::String))
        .optional()
        .description(md)
}

fn edge_type(with_ports: bool) -> Type {
    let mut fields = vec![
        ("src_ns", Type::String),
        ("dst_ns", Type::String),
        ("action", Type::String),
        ("flow_count", Type::Number),
        ("first_seen", Type::String),
        ("last_seen", Type::String),
    ];
    if with_ports {
        fields.push(("dst_ports", Type::list(Type::Number)));
    }
    Type::object(fields)
}

fn ts(v: &Option<String>) -> Value {
    v.clone().map(Value::from).unwrap_or(Value::Null)
}

fn edge_value(e: &Edge, with_ports: bool) -> Value {
    let mut attrs = vec![
        ("src_ns", Value::from(e.src_ns.as_str())),
        ("dst_ns", Value::from(e.dst_ns.as_str())),
        ("action", Value::from(e.action.as_str())),
        ("flow_count", Value::from(e.flow_count)),
        ("first_seen", ts(&e.first_seen)),
        ("last_seen", ts(&e.last_seen)),
    ];
    if with_ports {
        attrs.push((
            "dst_ports",
            Value::List(e.dst_ports.iter().map(|p| Value::from(*p)).collect()),
        ));
    }
    Value::object(attrs)
}

fn edge_list(edges: &[Edge], with_ports: bool) -> Value {
    Value::List(edges.iter().map(|e| edge_value(e, with_ports)).collect())
}

fn db_err(e: DbError) -> Diagnostics {
    Diagnostic::error("Reading the goldmane edge trail failed", &e.0).into()
}

fn string(config: &Value, attr: &str) -> Option<String> {
    config.get(attr).as_str().map(str::to_string)
}

fn duration(config: &Value, attr: &str) -> Option<Duration> {
    config
        .get(attr)
        .as_str()
        .and_then(|s| validate::duration(s).ok())
}

fn string_set(config: &Value, attr: &str) -> Vec<String> {
    let set: BTreeSet<String> = config
        .get(attr)
        .as_list()
        .unwrap_or(&[])
        .iter()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
    set.into_iter().collect()
}

/// Enforces `min_observation`, pointing at the attribute on failure.
fn require_observation(db: &Db, config: &Value) -> Result<(), Diagnostics> {
    match duration(config, "min_observation") {
        Some(min) => db.require_observed_for(min).map_err(|e| {
            Diagnostic::error("The edge trail is younger than min_observation", &e)
                .at(AttrPath::root().attr("min_observation"))
                .into()
        }),
        None => Ok(()),
    }
}

fn id_of(parts: &[Option<String>]) -> Value {
    Value::from(
        parts
            .iter()
            .map(|p| p.as_deref().unwrap_or("*"))
            .collect::<Vec<_>>()
            .join("/"),
    )
}

// ---- goldmane_egress_allowlist --------------------------------------------

fn allowlist_schema() -> Schema {
    Schema::new(vec![
        namespace_attr("Source namespace whose egress destinations are listed."),
        action_attr(true),
        seen_within_attr(),
        min_observation_attr(),
        exclude_attr("Destination namespaces to leave out (e.g. those a baseline rule already allows)."),
        id_attr(),
        Attribute::new("dst_namespaces", Type::list(Type::String))
            .computed()
            .description("Sorted, de-duplicated destination namespaces: the in-cluster half of the namespace's egress allowlist."),
        Attribute::new(
            "edges",
            Type::list(Type::object([
                ("dst_ns", Type::String),
                ("first_seen", Type::String),
                ("last_seen", Type::String),
                ("flow_count", Type::Number),
            ])),
        )
        .computed()
        .description("One entry per destination, sorted by `dst_ns`: earliest `first_seen`, latest `last_seen`, summed `flow_count`."),
    ])
    .description("The egress allowlist of one namespace, derived from observed edges (runbook: `SELECT DISTINCT dst_ns FROM edge WHERE src_ns = $1 AND action = 'allow' ORDER BY dst_ns`).")
}

fn allowlist_read(db: &Db, config: &Value) -> Result<Value, Diagnostics> {
    require_observation(db, config)?;
    let ns = string(config, "namespace").unwrap_or_default();
    let action = string(config, "action").unwrap_or_else(|| "allow".into());
    let exclude = string_set(config, "exclude");
    let rows = db
        .allowlist(&ns, &action, duration(config, "seen_within"), &exclude)
        .map_err(db_err)?;
    let edges = rows
        .iter()
        .map(|e| {
            Value::object([
                ("dst_ns", Value::from(e.dst_ns.as_str())),
                ("first_seen", ts(&e.first_seen)),
                ("last_seen", ts(&e.last_seen)),
                ("flow_count", Value::from(e.flow_count)),
            ])
        })
        .collect();
    Ok(config
        .clone()
        .with_attr("action", Value::from(action.as_str()))
        .with_attr("id", id_of(&[Some(ns), Some(action)]))
        .with_attr(
            "dst_namespaces",
            Value::string_list(rows.iter().map(|e| e.dst_ns.clone())),
        )
        .with_attr("edges", Value::List(edges)))
}

// ---- goldmane_egress_matrix -----------------------------------------------

fn matrix_schema() -> Schema {
    Schema::new(vec![
        action_attr(true),
        seen_within_attr(),
        min_observation_attr(),
        exclude_attr("Namespaces to leave out, as sources and as destinations."),
        id_attr(),
        Attribute::new("allowed", Type::map(Type::list(Type::String)))
            .computed()
            .description("Source namespace → its sorted destination namespaces. Use with `for_each`."),
        Attribute::new("source_namespaces", Type::list(Type::String))
            .computed()
            .description("The keys of `allowed`, sorted."),
    ])
    .description("The egress matrix of every source namespace at once (runbook: `SELECT src_ns, array_agg(DISTINCT dst_ns ORDER BY dst_ns) … GROUP BY src_ns`).")
}

fn matrix_read(db: &Db, config: &Value) -> Result<Value, Diagnostics> {
    require_observation(db, config)?;
    let action = string(config, "action").unwrap_or_else(|| "allow".into());
    let matrix = db
        .matrix(
            &action,
            duration(config, "seen_within"),
            &string_set(config, "exclude"),
        )
        .map_err(db_err)?;
    let allowed = matrix
        .iter()
        .map(|(k, v)| (k.clone(), Value::string_list(v.iter().cloned())))
        .collect();
    Ok(config
        .clone()
        .with_attr("action", Value::from(action.as_str()))
        .with_attr("id", id_of(&[Some(action)]))
        .with_attr("allowed", Value::Map(allowed))
        .with_attr(
            "source_namespaces",
            Value::string_list(matrix.keys().cloned()),
        ))
}

// ---- goldmane_edges ---------------------------------------------------------

const DEFAULT_LIMIT: i64 = 200;

fn edges_schema() -> Schema {
    let ns = |name: &str, md: &str| {
        Attribute::new(name, Type::String)
            .optional()
            .description(md)
    };
    Schema::new(vec![
        ns("namespace", "Edges touching this namespace in either direction."),
        ns("src", "Edges whose source namespace is this."),
        ns("dst", "Edges whose destination namespace is this."),
        action_attr(false),
        ns("first_seen_since", "Edges first seen at or after this: a duration back from now (`24h`, `7d`) or a date/timestamp (`2026-06-24`, `2026-06-24T08:00:00Z`)."),
        Attribute::new("limit", Type::Number)
            .optional()
            .computed()
            .description("At most this many edges (default 200, max 100000)."),
        id_attr(),
        Attribute::new("edges", Type::list(edge_type(true)))
            .computed()
            .description("Matching edges, newest `first_seen` first (ties by src, dst, action). `dst_ports` is filled only from a widened table."),
    ])
    .description("A filtered listing of edges, like `homelab edges` (`--ns`, `--src`, `--dst`, `--denied`, `--new-since`, `--limit`).")
}

fn edges_read(db: &Db, config: &Value) -> Result<Value, Diagnostics> {
    let limit = config.get("limit").as_i64().unwrap_or(DEFAULT_LIMIT);
    let filter = EdgeFilter {
        namespace: string(config, "namespace"),
        src: string(config, "src"),
        dst: string(config, "dst"),
        action: string(config, "action"),
        since: config
            .get("first_seen_since")
            .as_str()
            .and_then(|s| validate::since(s).ok()),
        limit: Some(limit),
    };
    let edges = db.edges(&filter).map_err(|e| {
        let d = Diagnostic::error("Reading the goldmane edge trail failed", &e.0);
        let d = if filter.since.is_some() && e.0.contains("timestamp") {
            d.at(AttrPath::root().attr("first_seen_since"))
        } else {
            d
        };
        Diagnostics::from(d)
    })?;
    Ok(config
        .clone()
        .with_attr("limit", Value::from(limit))
        .with_attr(
            "id",
            id_of(&[
                filter.namespace.clone(),
                filter.src.clone(),
                filter.dst.clone(),
                filter.action.clone(),
                string(config, "first_seen_since"),
                Some(limit.to_string()),
            ]),
        )
        .with_attr("edges", edge_list(&edges, true)))
}

// ---- goldmane_ingress_sources -----------------------------------------------

fn ingress_schema() -> Schema {
    Schema::new(vec![
        namespace_attr("Destination namespace whose sources are listed."),
        action_attr(false),
        seen_within_attr(),
        id_attr(),
        Attribute::new("src_namespaces", Type::list(Type::String))
            .computed()
            .description("Sorted, de-duplicated source namespaces."),
        Attribute::new("sources", Type::list(edge_type(false)))
            .computed()
            .description("One entry per (source, action), most flows first (ties by src, action)."),
    ])
    .description("Everything talking to a namespace (inbound), for ingress policies.")
}

fn ingress_read(db: &Db, config: &Value) -> Result<Value, Diagnostics> {
    let ns = string(config, "namespace").unwrap_or_default();
    let action = string(config, "action");
    let rows = db
        .ingress(&ns, action.as_deref(), duration(config, "seen_within"))
        .map_err(db_err)?;
    let srcs: BTreeSet<&str> = rows.iter().map(|e| e.src_ns.as_str()).collect();
    Ok(config
        .clone()
        .with_attr("id", id_of(&[Some(ns), action]))
        .with_attr("src_namespaces", Value::string_list(srcs))
        .with_attr("sources", edge_list(&rows, false)))
}

// ---- goldmane_peers -----------------------------------------------------------

fn peers_schema() -> Schema {
    Schema::new(vec![
        namespace_attr("Namespace whose peers (both directions) are listed."),
        action_attr(false),
        id_attr(),
        Attribute::new("peer_namespaces", Type::list(Type::String))
            .computed()
            .description("Sorted, de-duplicated peer namespaces."),
        Attribute::new(
            "peers",
            Type::list(Type::object([
                ("namespace", Type::String),
                ("action", Type::String),
                ("egress", Type::Bool),
                ("ingress", Type::Bool),
            ])),
        )
        .computed()
        .description("One entry per (peer, action), sorted; `egress` = the namespace talks to the peer, `ingress` = the peer talks to it."),
    ])
    .description("Distinct peers of a namespace in both directions (`homelab edges --peers-of`).")
}

fn peers_read(db: &Db, config: &Value) -> Result<Value, Diagnostics> {
    let ns = string(config, "namespace").unwrap_or_default();
    let action = string(config, "action");
    let peers = db.peers(&ns, action.as_deref()).map_err(db_err)?;
    let names: BTreeSet<&str> = peers.iter().map(|p| p.namespace.as_str()).collect();
    let list = peers
        .iter()
        .map(|p| {
            Value::object([
                ("namespace", Value::from(p.namespace.as_str())),
                ("action", Value::from(p.action.as_str())),
                ("egress", Value::from(p.egress)),
                ("ingress", Value::from(p.ingress)),
            ])
        })
        .collect();
    Ok(config
        .clone()
        .with_attr("id", id_of(&[Some(ns), action]))
        .with_attr("peer_namespaces", Value::string_list(names))
        .with_attr("peers", Value::List(list)))
}

// ---- goldmane_denied_edges ----------------------------------------------------

fn denied_schema() -> Schema {
    Schema::new(vec![
        Attribute::new("namespace", Type::String)
            .optional()
            .description("Only denied edges touching this namespace (either direction)."),
        seen_within_attr(),
        id_attr(),
        Attribute::new("edges", Type::list(edge_type(false)))
            .computed()
            .description("Denied pairs, latest `last_seen` first (ties by src, dst)."),
    ])
    .description("Edges a policy is already dropping: investigate before tightening further (runbook sanity query).")
}

fn denied_read(db: &Db, config: &Value) -> Result<Value, Diagnostics> {
    let ns = string(config, "namespace");
    let rows = db
        .denied(ns.as_deref(), duration(config, "seen_within"))
        .map_err(db_err)?;
    Ok(config
        .clone()
        .with_attr("id", id_of(&[ns, string(config, "seen_within")]))
        .with_attr("edges", edge_list(&rows, false)))
}

// ---- goldmane_new_edges -------------------------------------------------------

fn new_edges_schema() -> Schema {
    Schema::new(vec![
        Attribute::new("within", Type::String)
            .optional()
            .computed()
            .description("Window back from now (default `24h`, what the daily digest reports)."),
        action_attr(false),
        Attribute::new("namespace", Type::String)
            .optional()
            .description("Only new edges touching this namespace (either direction)."),
        id_attr(),
        Attribute::new("edges", Type::list(edge_type(false)))
            .computed()
            .description("Edges whose earliest `first_seen` is inside the window, newest first."),
    ])
    .description("Edges first seen inside a window (a \"new edge\" as the digest defines it).")
}

fn new_edges_read(db: &Db, config: &Value) -> Result<Value, Diagnostics> {
    let within = string(config, "within").unwrap_or_else(|| "24h".into());
    let window = validate::duration(&within).map_err(|e| {
        Diagnostics::from(
            Diagnostic::error("Invalid duration", &e).at(AttrPath::root().attr("within")),
        )
    })?;
    let filter = EdgeFilter {
        namespace: string(config, "namespace"),
        action: string(config, "action"),
        since: Some(validate::Since::Ago(window)),
        ..EdgeFilter::default()
    };
    let rows = db.edges(&filter).map_err(db_err)?;
    Ok(config
        .clone()
        .with_attr("within", Value::from(within.as_str()))
        .with_attr(
            "id",
            id_of(&[
                Some(within.clone()),
                filter.action.clone(),
                filter.namespace.clone(),
            ]),
        )
        .with_attr("edges", edge_list(&rows, false)))
}

// ---- goldmane_trail_status ----------------------------------------------------

fn status_schema() -> Schema {
    let n = |name: &str, md: &str| {
        Attribute::new(name, Type::Number)
            .computed()
            .description(md)
    };
    let s = |name: &str, md: &str| {
        Attribute::new(name, Type::String)
            .computed()
            .description(md)
    };
    Schema::new(vec![
        id_attr(),
        s("table_shape", "`narrow` (the runbook's six columns) or `widened` (workload/port columns)."),
        n("row_count", "Rows in `edge`, sentinel rows included."),
        n("edge_count", "Distinct (src, dst, action) edges between real namespaces."),
        n("external_row_count", "Rows with the `'-'` sentinel (no namespace) on either side."),
        s("oldest_first_seen", "Earliest `first_seen` (UTC, RFC 3339): when the trail began."),
        s("newest_last_seen", "Latest `last_seen`: stale means the aggregator stopped upserting."),
        n("observed_for_seconds", "Seconds since `oldest_first_seen`."),
        n("last_seen_age_seconds", "Seconds since `newest_last_seen`."),
    ])
    .description("Health of the trail, so a `check` or `precondition` can refuse a stale or too-young trail.")
}

fn status_read(db: &Db, config: &Value) -> Result<Value, Diagnostics> {
    let s = db.status().map_err(db_err)?;
    let secs = |v: Option<f64>| {
        v.map(|v| Value::from(v.floor() as i64))
            .unwrap_or(Value::Null)
    };
    Ok(config
        .clone()
        .with_attr("id", Value::from("edge"))
        .with_attr("table_shape", Value::from(s.shape.name()))
        .with_attr("row_count", Value::from(s.row_count))
        .with_attr("edge_count", Value::from(s.edge_count))
        .with_attr("external_row_count", Value::from(s.external_row_count))
        .with_attr("oldest_first_seen", ts(&s.oldest_first_seen))
        .with_attr("newest_last_seen", ts(&s.newest_last_seen))
        .with_attr("observed_for_seconds", secs(s.observed_for_secs))
        .with_attr("last_seen_age_seconds", secs(s.last_seen_age_secs)))
}

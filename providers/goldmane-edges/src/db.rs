//! Read-only queries over the aggregator's `edge` table.
//!
//! Rules every query here keeps:
//! - it runs inside `START TRANSACTION READ ONLY` with
//!   `SET LOCAL statement_timeout` (milliseconds computed by the provider);
//! - user values travel as bind parameters only, never inside SQL text;
//! - rows are de-duplicated by namespace pair (the widened schema keeps several
//!   rows per pair: `sum(flow_count)`, `min(first_seen)`, `max(last_seen)`);
//! - the `'-'` sentinel is never a namespace, and any other value that is not a
//!   Kubernetes namespace name is dropped from results;
//! - every result has a total `ORDER BY`, so nightly plans do not flap.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use postgres::types::ToSql;
use postgres::{Client, Row, Statement};
use tfplugin::Configured;

use crate::settings::Settings;
use crate::validate::{self, Since};

/// UTC RFC 3339 text of a timestamptz expression, computed by the server.
macro_rules! ts {
    ($e:literal) => {
        concat!(
            "to_char((",
            $e,
            ") AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
        )
    };
}

/// The SQL of the egress allowlist (also what the benchmark hands to psql).
/// $1 src namespace, $2 action, $3 seen_within seconds (or NULL), $4 excluded destinations.
pub const ALLOWLIST_SQL: &str = concat!(
    "SELECT dst_ns, ",
    ts!("min(first_seen)"),
    ", ",
    ts!("max(last_seen)"),
    ", extract(epoch FROM now() - max(last_seen))::float8, coalesce(sum(flow_count), 0)::bigint \
     FROM edge WHERE src_ns = $1 AND action = $2 AND dst_ns <> '-' AND dst_ns <> ALL($4::text[]) \
     GROUP BY dst_ns \
     HAVING $3::float8 IS NULL OR max(last_seen) >= now() - make_interval(secs => $3::float8) \
     ORDER BY dst_ns"
);

/// The SQL of the egress matrix. $1 action, $2 seen_within seconds (or NULL), $3 excluded namespaces.
pub const MATRIX_SQL: &str = "SELECT src_ns, array_agg(DISTINCT dst_ns ORDER BY dst_ns) \
     FROM edge WHERE action = $1 AND src_ns <> '-' AND dst_ns <> '-' \
     AND src_ns <> ALL($3::text[]) AND dst_ns <> ALL($3::text[]) \
     AND ($2::float8 IS NULL OR last_seen >= now() - make_interval(secs => $2::float8)) \
     GROUP BY src_ns ORDER BY src_ns";

/// The namespace charset as a PostgreSQL regex: the listing applies it in SQL
/// so that `LIMIT` counts only real namespaces.
const NS_RE: &str = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$";

/// Which shape the `edge` table has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableShape {
    /// `edge(src_ns, dst_ns, action, first_seen, last_seen, flow_count)`.
    Narrow,
    /// The later migration's workload/port columns (`dst_port` among them).
    Widened,
}

impl TableShape {
    pub fn name(self) -> &'static str {
        match self {
            TableShape::Narrow => "narrow",
            TableShape::Widened => "widened",
        }
    }
}

/// A database failure, already phrased for a person.
#[derive(Debug, Clone, PartialEq)]
pub struct DbError(pub String);

impl std::fmt::Display for DbError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// One destination of an allowlist, aggregated over its rows.
#[derive(Debug, Clone, PartialEq)]
pub struct AllowEdge {
    pub dst_ns: String,
    pub first_seen: Option<String>,
    pub last_seen: Option<String>,
    pub last_seen_age_secs: Option<f64>,
    pub flow_count: i64,
}

/// One (src, dst, action) edge, aggregated over its rows.
#[derive(Debug, Clone, PartialEq)]
pub struct Edge {
    pub src_ns: String,
    pub dst_ns: String,
    pub action: String,
    pub flow_count: i64,
    pub first_seen: Option<String>,
    pub last_seen: Option<String>,
    /// Destination ports seen (widened schema only; empty otherwise).
    pub dst_ports: Vec<i64>,
}

/// A peer of a namespace, per action, with the directions seen.
#[derive(Debug, Clone, PartialEq)]
pub struct Peer {
    pub namespace: String,
    pub action: String,
    pub egress: bool,
    pub ingress: bool,
}

/// Filters of the edge listing (the `homelab edges` flag surface).
#[derive(Debug, Clone, Default)]
pub struct EdgeFilter {
    pub namespace: Option<String>,
    pub src: Option<String>,
    pub dst: Option<String>,
    pub action: Option<String>,
    pub since: Option<Since>,
    pub limit: Option<i64>,
}

/// Health numbers of the trail.
#[derive(Debug, Clone, PartialEq)]
pub struct Status {
    pub shape: TableShape,
    pub row_count: i64,
    pub edge_count: i64,
    pub external_row_count: i64,
    pub oldest_first_seen: Option<String>,
    pub newest_last_seen: Option<String>,
    pub observed_for_secs: Option<f64>,
    pub last_seen_age_secs: Option<f64>,
}

/// One open connection with the statements it has already prepared.
struct Conn {
    client: Client,
    prepared: HashMap<String, Statement>,
}

/// The handle a read works through: queries inside the read-only
/// transaction, each prepared once per connection and reused.
pub struct Session<'a> {
    conn: &'a mut Conn,
}

impl Session<'_> {
    fn statement(&mut self, sql: &str) -> Result<Statement, postgres::Error> {
        if let Some(st) = self.conn.prepared.get(sql) {
            return Ok(st.clone());
        }
        let st = self.conn.client.prepare(sql)?;
        self.conn.prepared.insert(sql.to_string(), st.clone());
        Ok(st)
    }

    pub fn query(
        &mut self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, postgres::Error> {
        let st = self.statement(sql)?;
        self.conn.client.query(&st, params)
    }

    pub fn query_one(
        &mut self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Row, postgres::Error> {
        let st = self.statement(sql)?;
        self.conn.client.query_one(&st, params)
    }

    pub fn execute(
        &mut self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<u64, postgres::Error> {
        let st = self.statement(sql)?;
        self.conn.client.execute(&st, params)
    }
}

/// The database handle as resources and data sources hold it: set by
/// ConfigureProvider, an error naming the cause before that.
pub type DbCell = Arc<Configured<Db>>;

/// Connections to the trail database: a small pool of idle connections.
pub struct Db {
    settings: Settings,
    idle: Mutex<Vec<Conn>>,
}

const MAX_IDLE: usize = 4;

fn secs(d: Option<Duration>) -> Option<f64> {
    d.map(|d| d.as_secs_f64())
}

impl Db {
    pub fn new(settings: Settings) -> Db {
        Db {
            settings,
            idle: Mutex::new(Vec::new()),
        }
    }

    fn connect(&self) -> Result<Conn, DbError> {
        infra_clients::pg_tls::connect(&self.settings.config, self.settings.tls.as_ref())
            .map(|client| Conn {
                client,
                prepared: HashMap::new(),
            })
            .map_err(|e| {
                DbError(format!(
                    "cannot connect to PostgreSQL at {}: {}",
                    self.settings.target,
                    describe(&e)
                ))
            })
    }

    /// Runs `f` in a READ ONLY transaction with `SET LOCAL statement_timeout`.
    ///
    /// The transaction start and the timeout go in one round trip; the
    /// timeout is an integer the provider computed (milliseconds), the only
    /// value ever written into SQL text. A connection that saw an error is
    /// closed rather than pooled.
    pub fn read<T>(
        &self,
        f: impl FnOnce(&mut Session<'_>) -> Result<T, postgres::Error>,
    ) -> Result<T, DbError> {
        let pooled = self.idle.lock().map(|mut v| v.pop()).unwrap_or(None);
        let mut conn = match pooled {
            Some(c) if !c.client.is_closed() => c,
            _ => self.connect()?,
        };
        let timeout_ms: u128 = self.settings.statement_timeout.as_millis().max(1);
        let result = (|| {
            conn.client.batch_execute(&format!(
                "START TRANSACTION READ ONLY; SET LOCAL statement_timeout = {timeout_ms}"
            ))?;
            let value = f(&mut Session { conn: &mut conn })?;
            conn.client.batch_execute("COMMIT")?;
            Ok(value)
        })();
        match &result {
            Ok(_) if !conn.client.is_closed() => {
                if let Ok(mut idle) = self.idle.lock()
                    && idle.len() < MAX_IDLE
                {
                    idle.push(conn);
                }
            }
            // Dropped here, on the provider's blocking thread.
            _ => drop(conn),
        }
        result.map_err(|e: postgres::Error| DbError(self.explain(&e)))
    }

    fn explain(&self, e: &postgres::Error) -> String {
        if let Some(db) = e.as_db_error() {
            match db.code().code() {
                "57014" => {
                    return format!(
                        "the query on {} was cancelled after the statement timeout of {} s; raise statement_timeout or add the index docs/goldmane-edges/index.md names",
                        self.settings.target,
                        self.settings.statement_timeout.as_secs_f64()
                    );
                }
                "42P01" => {
                    return format!(
                        "table \"edge\" does not exist in {}: is this the goldmane_edges database, and has the aggregator started once (it creates the table)?",
                        self.settings.target
                    );
                }
                "42703" => {
                    return format!(
                        "table \"edge\" in {} lacks a column this provider needs ({}); expected edge(src_ns, dst_ns, action, first_seen, last_seen, flow_count)",
                        self.settings.target,
                        db.message()
                    );
                }
                _ => {}
            }
        }
        format!(
            "query on PostgreSQL {} failed: {}",
            self.settings.target,
            describe(e)
        )
    }

    /// Detects the table's shape from `information_schema.columns`.
    pub fn shape(&self) -> Result<TableShape, DbError> {
        self.read(shape_in)
    }

    /// Destinations `src` reached with `action` (the Wave-1 egress allowlist).
    pub fn allowlist(
        &self,
        src: &str,
        action: &str,
        seen_within: Option<Duration>,
        exclude: &[String],
    ) -> Result<Vec<AllowEdge>, DbError> {
        let rows = self.read(|tx| {
            tx.query(
                ALLOWLIST_SQL,
                &[&src, &action, &secs(seen_within), &exclude],
            )
        })?;
        Ok(rows
            .iter()
            .map(|r| AllowEdge {
                dst_ns: r.get(0),
                first_seen: r.get(1),
                last_seen: r.get(2),
                last_seen_age_secs: r.get(3),
                flow_count: r.get(4),
            })
            .filter(|e| validate::is_namespace(&e.dst_ns))
            .collect())
    }

    /// Every source namespace → its sorted destinations for `action`.
    pub fn matrix(
        &self,
        action: &str,
        seen_within: Option<Duration>,
        exclude: &[String],
    ) -> Result<BTreeMap<String, Vec<String>>, DbError> {
        let rows =
            self.read(|tx| tx.query(MATRIX_SQL, &[&action, &secs(seen_within), &exclude]))?;
        let mut out = BTreeMap::new();
        for r in &rows {
            let src: String = r.get(0);
            if !validate::is_namespace(&src) {
                continue;
            }
            let dsts: Vec<String> = r.get(1);
            let dsts: Vec<String> = dsts
                .into_iter()
                .filter(|d| validate::is_namespace(d))
                .collect();
            out.insert(src, dsts);
        }
        Ok(out)
    }

    /// The filtered edge listing (like `homelab edges`), newest first.
    pub fn edges(&self, f: &EdgeFilter) -> Result<Vec<Edge>, DbError> {
        let (ago, at) = match &f.since {
            Some(Since::Ago(d)) => (Some(d.as_secs_f64()), None),
            Some(Since::At(t)) => (None, Some(t.clone())),
            None => (None, None),
        };
        let rows = self.read(|tx| {
            let widened = shape_in(tx)? == TableShape::Widened;
            let ports = if widened {
                "coalesce(array_agg(DISTINCT dst_port ORDER BY dst_port) FILTER (WHERE dst_port > 0), '{}')::bigint[]"
            } else {
                "'{}'::bigint[]"
            };
            let sql = format!(
                "SELECT src_ns, dst_ns, action, coalesce(sum(flow_count), 0)::bigint, {}, {}, {ports} \
                 FROM edge WHERE src_ns <> '-' AND dst_ns <> '-' \
                 AND src_ns ~ '{NS_RE}' AND dst_ns ~ '{NS_RE}' \
                 AND length(src_ns) <= 63 AND length(dst_ns) <= 63 \
                 AND ($1::text IS NULL OR src_ns = $1 OR dst_ns = $1) \
                 AND ($2::text IS NULL OR src_ns = $2) \
                 AND ($3::text IS NULL OR dst_ns = $3) \
                 AND ($4::text IS NULL OR action = $4) \
                 GROUP BY src_ns, dst_ns, action \
                 HAVING ($5::float8 IS NULL OR min(first_seen) >= now() - make_interval(secs => $5::float8)) \
                 AND ($6::text IS NULL OR min(first_seen) >= $6::timestamptz) \
                 ORDER BY min(first_seen) DESC NULLS LAST, src_ns, dst_ns, action \
                 LIMIT $7",
                ts!("min(first_seen)"),
                ts!("max(last_seen)"),
            );
            let params: [&(dyn ToSql + Sync); 7] = [
                &f.namespace,
                &f.src,
                &f.dst,
                &f.action,
                &ago,
                &at,
                &f.limit,
            ];
            tx.query(sql.as_str(), &params)
        })?;
        Ok(rows.iter().map(edge_of).filter(valid_edge).collect())
    }

    /// Who talks to `dst`: one entry per (source, action), most active first.
    pub fn ingress(
        &self,
        dst: &str,
        action: Option<&str>,
        seen_within: Option<Duration>,
    ) -> Result<Vec<Edge>, DbError> {
        let sql = concat!(
            "SELECT src_ns, dst_ns, action, coalesce(sum(flow_count), 0)::bigint, ",
            ts!("min(first_seen)"),
            ", ",
            ts!("max(last_seen)"),
            ", '{}'::bigint[] FROM edge WHERE dst_ns = $1 AND src_ns <> '-' \
             AND ($2::text IS NULL OR action = $2) \
             GROUP BY src_ns, dst_ns, action \
             HAVING $3::float8 IS NULL OR max(last_seen) >= now() - make_interval(secs => $3::float8) \
             ORDER BY sum(flow_count) DESC NULLS LAST, src_ns, action"
        );
        let rows = self.read(|tx| tx.query(sql, &[&dst, &action, &secs(seen_within)]))?;
        Ok(rows.iter().map(edge_of).filter(valid_edge).collect())
    }

    /// Namespaces `ns` talks with in either direction, per action.
    pub fn peers(&self, ns: &str, action: Option<&str>) -> Result<Vec<Peer>, DbError> {
        let sql = "SELECT peer, action, bool_or(egress), bool_or(ingress) FROM ( \
             SELECT dst_ns AS peer, action, true AS egress, false AS ingress FROM edge WHERE src_ns = $1 \
             UNION ALL \
             SELECT src_ns, action, false, true FROM edge WHERE dst_ns = $1) t \
             WHERE peer <> '-' AND ($2::text IS NULL OR action = $2) \
             GROUP BY peer, action ORDER BY peer, action";
        let rows = self.read(|tx| tx.query(sql, &[&ns, &action]))?;
        Ok(rows
            .iter()
            .map(|r| Peer {
                namespace: r.get(0),
                action: r.get(1),
                egress: r.get(2),
                ingress: r.get(3),
            })
            .filter(|p| validate::is_namespace(&p.namespace))
            .collect())
    }

    /// Denied pairs (policy is already dropping them), most recent first.
    pub fn denied(
        &self,
        namespace: Option<&str>,
        seen_within: Option<Duration>,
    ) -> Result<Vec<Edge>, DbError> {
        let sql = concat!(
            "SELECT src_ns, dst_ns, action, coalesce(sum(flow_count), 0)::bigint, ",
            ts!("min(first_seen)"),
            ", ",
            ts!("max(last_seen)"),
            ", '{}'::bigint[] FROM edge WHERE action = 'deny' AND src_ns <> '-' AND dst_ns <> '-' \
             AND ($1::text IS NULL OR src_ns = $1 OR dst_ns = $1) \
             GROUP BY src_ns, dst_ns, action \
             HAVING $2::float8 IS NULL OR max(last_seen) >= now() - make_interval(secs => $2::float8) \
             ORDER BY max(last_seen) DESC NULLS LAST, src_ns, dst_ns"
        );
        let rows = self.read(|tx| tx.query(sql, &[&namespace, &secs(seen_within)]))?;
        Ok(rows.iter().map(edge_of).filter(valid_edge).collect())
    }

    /// Row counts and the trail's age and freshness.
    pub fn status(&self) -> Result<Status, DbError> {
        let sql = concat!(
            "SELECT count(*)::bigint, \
             count(DISTINCT (src_ns, dst_ns, action)) FILTER (WHERE src_ns <> '-' AND dst_ns <> '-')::bigint, \
             count(*) FILTER (WHERE src_ns = '-' OR dst_ns = '-')::bigint, ",
            ts!("min(first_seen)"),
            ", ",
            ts!("max(last_seen)"),
            ", extract(epoch FROM now() - min(first_seen))::float8, \
             extract(epoch FROM now() - max(last_seen))::float8 FROM edge"
        );
        self.read(|tx| {
            let shape = shape_in(tx)?;
            let r = tx.query_one(sql, &[])?;
            Ok(Status {
                shape,
                row_count: r.get(0),
                edge_count: r.get(1),
                external_row_count: r.get(2),
                oldest_first_seen: r.get(3),
                newest_last_seen: r.get(4),
                observed_for_secs: r.get(5),
                last_seen_age_secs: r.get(6),
            })
        })
    }

    /// Fails unless the trail's oldest `first_seen` is at least `min` old
    /// (an edge exists only once observed: seeds/001 lines 8482-8486).
    pub fn require_observed_for(&self, min: Duration) -> Result<(), String> {
        let sql = concat!(
            "SELECT extract(epoch FROM now() - min(first_seen))::float8, ",
            ts!("min(first_seen)"),
            " FROM edge"
        );
        let (age, oldest): (Option<f64>, Option<String>) = self
            .read(|tx| {
                let r = tx.query_one(sql, &[])?;
                Ok((r.get(0), r.get(1)))
            })
            .map_err(|e| e.0)?;
        let want = validate::human(min.as_secs_f64());
        match (age, oldest) {
            (Some(age), Some(_)) if age >= min.as_secs_f64() => Ok(()),
            (Some(age), Some(oldest)) => Err(format!(
                "the edge trail has been observed for only {} (oldest first_seen {oldest}); min_observation requires {want}. Edges appear only once traffic is seen: wait, or lower min_observation knowingly",
                validate::human(age)
            )),
            _ => Err(format!(
                "the edge table is empty, so it has been observed for 0s; min_observation requires {want}. Is the aggregator running?"
            )),
        }
    }
}

impl Drop for Db {
    /// The blocking client's destructor runs its own small runtime, which
    /// panics on a tokio worker thread — where the SDK may drop the provider.
    /// Idle connections are therefore closed on a thread of their own.
    fn drop(&mut self) {
        let idle = match self.idle.get_mut() {
            Ok(v) => std::mem::take(v),
            Err(poisoned) => std::mem::take(poisoned.into_inner()),
        };
        if !idle.is_empty() {
            std::thread::spawn(move || drop(idle));
        }
    }
}

fn shape_in(tx: &mut Session<'_>) -> Result<TableShape, postgres::Error> {
    let rows = tx.query(
        "SELECT column_name::text FROM information_schema.columns \
         WHERE table_schema = current_schema() AND table_name = 'edge' ORDER BY column_name",
        &[],
    )?;
    let widened = rows
        .iter()
        .any(|r| r.get::<_, String>(0).as_str() == "dst_port");
    Ok(if widened {
        TableShape::Widened
    } else {
        TableShape::Narrow
    })
}

fn edge_of(r: &Row) -> Edge {
    Edge {
        src_ns: r.get(0),
        dst_ns: r.get(1),
        action: r.get(2),
        flow_count: r.get(3),
        first_seen: r.get(4),
        last_seen: r.get(5),
        dst_ports: r.get(6),
    }
}

fn valid_edge(e: &Edge) -> bool {
    validate::is_namespace(&e.src_ns) && validate::is_namespace(&e.dst_ns)
}

/// A driver error in words, without connection strings or passwords.
fn describe(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!(
            "{} {} (SQLSTATE {})",
            db.severity(),
            db.message(),
            db.code().code()
        ),
        None => {
            let mut s = e.to_string();
            let mut source = std::error::Error::source(e);
            while let Some(inner) = source {
                s.push_str(": ");
                s.push_str(&inner.to_string());
                source = inner.source();
            }
            s
        }
    }
}

//! The query layer against a real PostgreSQL seeded with both table shapes.

mod common;

use std::time::Duration;

use goldmane_edges::db::{Db, EdgeFilter, TableShape};
use goldmane_edges::settings::{self, Input};
use goldmane_edges::validate::Since;

const DAY: Duration = Duration::from_secs(86_400);

fn names<T>(items: &[T], f: impl Fn(&T) -> &str) -> Vec<String> {
    items.iter().map(|i| f(i).to_string()).collect()
}

#[test]
fn narrow_schema_queries() {
    let pg = common::seeded();
    let db = Db::new(common::settings(&pg, common::NARROW_DB));
    assert_eq!(db.shape().unwrap(), TableShape::Narrow);

    // Allowlist: the self-edge stays (default-deny egress blocks it too), the
    // sentinel and the hostile destinations never appear.
    let allow = db.allowlist("app", "allow", None, &[]).unwrap();
    assert_eq!(names(&allow, |e| &e.dst_ns), ["app", "db", "old"]);
    assert_eq!(allow[1].flow_count, 100);
    assert!(allow[1].first_seen.as_deref().unwrap().ends_with('Z'));
    let recent = db.allowlist("app", "allow", Some(30 * DAY), &[]).unwrap();
    assert_eq!(names(&recent, |e| &e.dst_ns), ["app", "db"]);
    let excluded = db
        .allowlist("app", "allow", None, &["db".to_string(), "app".to_string()])
        .unwrap();
    assert_eq!(names(&excluded, |e| &e.dst_ns), ["old"]);

    // All four actions are kept apart.
    let deny = db.allowlist("app", "deny", None, &[]).unwrap();
    assert_eq!(names(&deny, |e| &e.dst_ns), ["blocked", "db"]);
    let pass = db.allowlist("app", "pass", None, &[]).unwrap();
    assert_eq!(names(&pass, |e| &e.dst_ns), ["mon"]);
    let unspec = db.allowlist("app", "unspecified", None, &[]).unwrap();
    assert_eq!(names(&unspec, |e| &e.dst_ns), ["misc"]);

    // Matrix: '-' and non-namespace sources are not keys.
    let matrix = db.matrix("allow", None, &[]).unwrap();
    assert_eq!(matrix.keys().collect::<Vec<_>>(), ["app", "web"]);
    assert_eq!(matrix["app"], ["app", "db", "old"]);
    assert_eq!(matrix["web"], ["app", "db"]);
    let matrix = db.matrix("allow", Some(30 * DAY), &["web".into()]).unwrap();
    assert_eq!(matrix.keys().collect::<Vec<_>>(), ["app"]);
    assert_eq!(matrix["app"], ["app", "db"]);

    // Listing: newest first, with a total order.
    let all = db.edges(&EdgeFilter::default()).unwrap();
    assert_eq!(all.len(), 9, "{all:#?}");
    assert_eq!(
        (all[0].src_ns.as_str(), all[0].dst_ns.as_str()),
        ("web", "app")
    );
    assert!(all.iter().all(|e| e.dst_ports.is_empty()));
    let new = db
        .edges(&EdgeFilter {
            since: Some(Since::Ago(DAY)),
            ..EdgeFilter::default()
        })
        .unwrap();
    assert_eq!(names(&new, |e| &e.src_ns), ["web"]);
    let dated = db
        .edges(&EdgeFilter {
            since: Some(Since::At("2000-01-01".into())),
            namespace: Some("db".into()),
            ..EdgeFilter::default()
        })
        .unwrap();
    assert_eq!(dated.len(), 3);
    let limited = db
        .edges(&EdgeFilter {
            src: Some("app".into()),
            action: Some("allow".into()),
            limit: Some(2),
            ..EdgeFilter::default()
        })
        .unwrap();
    assert_eq!(names(&limited, |e| &e.dst_ns), ["app", "db"]);

    // Ingress, peers, denied.
    let ingress = db.ingress("app", None, None).unwrap();
    assert_eq!(names(&ingress, |e| &e.src_ns), ["web", "app"]);
    let peers = db.peers("app", None).unwrap();
    let peer_view: Vec<_> = peers
        .iter()
        .map(|p| (p.namespace.as_str(), p.action.as_str(), p.egress, p.ingress))
        .collect();
    assert_eq!(
        peer_view,
        [
            ("app", "allow", true, true),
            ("blocked", "deny", true, false),
            ("db", "allow", true, false),
            ("db", "deny", true, false),
            ("misc", "unspecified", true, false),
            ("mon", "pass", true, false),
            ("old", "allow", true, false),
            ("web", "allow", false, true),
        ]
    );
    let denied = db.denied(None, None).unwrap();
    assert_eq!(names(&denied, |e| &e.dst_ns), ["db", "blocked"]);

    let status = db.status().unwrap();
    assert_eq!(status.shape, TableShape::Narrow);
    assert_eq!(status.row_count, 16);
    assert_eq!(status.external_row_count, 2);
    assert!(status.observed_for_secs.unwrap() > 59.0 * 86_400.0);
    db.require_observed_for(7 * DAY).unwrap();
    let err = db.require_observed_for(90 * DAY).unwrap_err();
    assert!(err.contains("observed for only 60d"), "{err}");
    assert!(err.contains("requires 90d"), "{err}");
}

#[test]
fn hostile_strings_are_matched_literally_never_executed() {
    let pg = common::seeded();
    let db = Db::new(common::settings(&pg, common::NARROW_DB));
    for hostile in common::HOSTILE {
        // Passed verbatim (the provider rejects them earlier): bind parameters
        // match them as data.
        db.allowlist(hostile, "allow", None, &[hostile.to_string()])
            .unwrap();
        db.edges(&EdgeFilter {
            namespace: Some(hostile.into()),
            since: Some(Since::At("2000-01-01".into())),
            ..EdgeFilter::default()
        })
        .unwrap();
        db.ingress(hostile, Some(hostile), None).unwrap();
        db.peers(hostile, None).unwrap();
    }
    let raw = db
        .read(|tx| {
            tx.query(
                "SELECT dst_ns FROM edge WHERE src_ns = $1",
                &[&common::HOSTILE[0]],
            )
        })
        .unwrap();
    assert_eq!(raw.len(), 1, "the literal row is found as data");
    assert_eq!(
        pg.psql(common::NARROW_DB, "SELECT count(*) FROM edge")
            .trim(),
        "16",
        "nothing was dropped or deleted"
    );
    // A hostile "date" is a bound value too: PostgreSQL rejects it as a date.
    let err = db
        .edges(&EdgeFilter {
            since: Some(Since::At("2026-01-01'; DELETE FROM edge;--".into())),
            ..EdgeFilter::default()
        })
        .unwrap_err();
    assert!(err.0.contains("invalid input syntax"), "{err}");
    assert_eq!(
        pg.psql(common::NARROW_DB, "SELECT count(*) FROM edge")
            .trim(),
        "16"
    );
}

#[test]
fn widened_schema_is_deduplicated_by_pair() {
    let pg = common::seeded();
    let db = Db::new(common::settings(&pg, common::WIDE_DB));
    assert_eq!(db.shape().unwrap(), TableShape::Widened);
    let allow = db.allowlist("app", "allow", None, &[]).unwrap();
    assert_eq!(names(&allow, |e| &e.dst_ns), ["app", "db"]);
    assert_eq!(allow[1].flow_count, 157);
    // Only the widened rows are recent: seen_within keeps the pair.
    assert_eq!(
        db.allowlist("app", "allow", Some(DAY), &[]).unwrap().len(),
        2
    );
    let matrix = db.matrix("allow", None, &[]).unwrap();
    assert_eq!(matrix["app"], ["app", "db"]);
    let edges = db
        .edges(&EdgeFilter {
            src: Some("app".into()),
            action: Some("allow".into()),
            ..EdgeFilter::default()
        })
        .unwrap();
    assert_eq!(edges.len(), 2, "{edges:#?}");
    let db_edge = edges.iter().find(|e| e.dst_ns == "db").unwrap();
    assert_eq!(db_edge.flow_count, 157);
    assert_eq!(db_edge.dst_ports, [5432, 9187]);
    let status = db.status().unwrap();
    assert_eq!(status.shape, TableShape::Widened);
    assert_eq!(status.row_count, 6);
    assert_eq!(status.edge_count, 3);
    assert_eq!(status.external_row_count, 1);
}

#[test]
fn transactions_are_read_only_and_time_limited() {
    let pg = common::seeded();
    let db = Db::new(common::settings(&pg, common::NARROW_DB));
    let err = db
        .read(|tx| tx.execute("DELETE FROM edge", &[]))
        .unwrap_err();
    assert!(err.0.contains("read-only transaction"), "{err}");
    let mut input = common::input(&pg, common::NARROW_DB);
    input.statement_timeout = Some(Duration::from_millis(200));
    let db = Db::new(settings::resolve(&input, &|_| None).unwrap());
    let err = db
        .read(|tx| tx.query("SELECT pg_sleep(5)", &[]))
        .unwrap_err();
    assert!(err.0.contains("statement timeout of 0.2 s"), "{err}");
    // The pooled connection is still usable afterwards.
    db.allowlist("app", "allow", None, &[]).unwrap();
}

#[test]
fn connection_errors_never_carry_the_password() {
    let pg = common::seeded();
    let secret = "not-the-password-4711";
    let input = Input {
        password: Some(secret.into()),
        ..common::input(&pg, common::NARROW_DB)
    };
    let err = Db::new(settings::resolve(&input, &|_| None).unwrap())
        .allowlist("app", "allow", None, &[])
        .unwrap_err();
    assert!(err.0.contains("password authentication failed"), "{err}");
    assert!(!err.0.contains(secret), "{err}");
    let err = Db::new(common::settings(&pg, "no_such_db"))
        .status()
        .unwrap_err();
    assert!(err.0.contains("no_such_db"), "{err}");
    let empty = "goldmane_empty";
    pg.create_db(empty);
    let err = Db::new(common::settings(&pg, empty)).status().unwrap_err();
    assert!(err.0.contains("table \"edge\" does not exist"), "{err}");
}

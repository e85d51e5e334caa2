//! Seeds a real PostgreSQL with both shapes of the `edge` table.
#![allow(dead_code)]

use goldmane_edges::settings::{self, Input, Settings};
use testsupport::{OpenBao, PG_SUPERUSER_PASSWORD, Postgres};

pub const NARROW_DB: &str = "goldmane_edges";
pub const WIDE_DB: &str = "goldmane_edges_wide";

/// Hostile namespace strings stored in the table: never executed, never
/// returned as namespaces, matched literally when asked for verbatim.
pub const HOSTILE: [&str; 4] = ["a'; DROP TABLE edge;--", "ünïcode", "a;b", "Global"];

/// The narrow schema (runbook, seeds/001 lines 8322-8339) with the `'-'`
/// sentinel, self-edges, all four actions and hostile strings.
pub const NARROW_SEED: &str = r#"
CREATE TABLE edge(src_ns text, dst_ns text, action text,
  first_seen timestamptz, last_seen timestamptz, flow_count bigint,
  PRIMARY KEY (src_ns, dst_ns, action));
INSERT INTO edge VALUES
  ('app', 'db',      'allow',       now() - interval '20 days', now() - interval '1 hour',  100),
  ('app', 'db',      'deny',        now() - interval '19 days', now() - interval '2 hours', 3),
  ('app', 'old',     'allow',       now() - interval '60 days', now() - interval '45 days', 5),
  ('app', 'app',     'allow',       now() - interval '20 days', now() - interval '1 hour',  9),
  ('app', '-',       'allow',       now() - interval '20 days', now() - interval '1 hour',  40),
  ('app', 'blocked', 'deny',        now() - interval '5 days',  now() - interval '3 hours', 7),
  ('app', 'mon',     'pass',        now() - interval '5 days',  now() - interval '3 hours', 2),
  ('app', 'misc',    'unspecified', now() - interval '5 days',  now() - interval '3 hours', 1),
  ('web', 'app',     'allow',       now() - interval '2 hours', now() - interval '1 minute', 11),
  ('web', 'db',      'allow',       now() - interval '15 days', now() - interval '1 minute', 50),
  ('-',   'app',     'allow',       now() - interval '30 days', now() - interval '1 hour',  4),
  ('app', $h$a'; DROP TABLE edge;--$h$, 'allow', now() - interval '3 days', now(), 1),
  ($h$a'; DROP TABLE edge;--$h$, 'app', 'allow', now() - interval '3 days', now(), 1),
  ('app', 'ünïcode', 'allow',       now() - interval '3 days',  now(), 1),
  ('a;b', 'app',     'allow',       now() - interval '3 days',  now(), 1),
  ('Global', 'app',  'deny',        now() - interval '3 days',  now(), 1);
"#;

/// The widened schema (later migration): several rows per namespace pair,
/// workload and port columns, the `'-'` sentinel for external destinations.
pub const WIDE_SEED: &str = r#"
CREATE TABLE edge(src_ns text NOT NULL, dst_ns text NOT NULL, action text NOT NULL,
  first_seen timestamptz NOT NULL, last_seen timestamptz NOT NULL, flow_count bigint NOT NULL,
  src_workload text, src_type text, dst_workload text, dst_type text,
  dst_service text, dst_service_ns text, dst_port bigint,
  pre_widening boolean GENERATED ALWAYS AS (src_type IS NULL) STORED);
INSERT INTO edge (src_ns, dst_ns, action, first_seen, last_seen, flow_count,
  src_workload, src_type, dst_workload, dst_type, dst_service, dst_service_ns, dst_port) VALUES
  ('app', 'db', 'allow', now() - interval '20 days', now() - interval '3 days', 100, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
  ('app', 'db', 'allow', now() - interval '2 days',  now() - interval '1 hour', 50, 'api', 'workload', 'pg-1', 'workload', 'pg-rw', 'db', 5432),
  ('app', 'db', 'allow', now() - interval '1 day',   now(), 7, 'api', 'workload', 'pg-1', 'workload', 'pg-metrics', 'db', 9187),
  ('app', '-',  'allow', now() - interval '1 day',   now(), 70, 'api', 'workload', '-', 'network', '-', '-', 443),
  ('app', 'app', 'allow', now() - interval '1 day',  now(), 3, 'api', 'workload', 'worker', 'workload', '-', '-', 0),
  ('app', 'db', 'deny',  now() - interval '1 day',   now(), 2, 'api', 'workload', 'pg-1', 'workload', '-', '-', 22);
"#;

/// A started PostgreSQL with both databases seeded.
pub fn seeded() -> Postgres {
    let pg = Postgres::start();
    pg.create_db(NARROW_DB);
    pg.psql(NARROW_DB, NARROW_SEED);
    pg.create_db(WIDE_DB);
    pg.psql(WIDE_DB, WIDE_SEED);
    pg
}

/// Settings for `db` as the superuser over TCP (password authenticated).
pub fn settings(pg: &Postgres, db: &str) -> Settings {
    settings::resolve(&input(pg, db), &|_| None).expect("resolve settings")
}

pub fn input(pg: &Postgres, db: &str) -> Input {
    Input {
        host: Some("127.0.0.1".into()),
        port: Some(pg.port()),
        database: Some(db.into()),
        username: Some("postgres".into()),
        password: Some(PG_SUPERUSER_PASSWORD.into()),
        sslmode: Some("disable".into()),
        ..Input::default()
    }
}

/// Makes the login role the aggregator owns the database with (seeds/001 line 8337).
pub fn create_owner_role(pg: &Postgres) {
    pg.psql(
        "postgres",
        "CREATE ROLE goldmane_edges LOGIN PASSWORD 'initial-password'; \
         GRANT SELECT ON ALL TABLES IN SCHEMA public TO goldmane_edges",
    );
    pg.psql(NARROW_DB, "GRANT SELECT ON edge TO goldmane_edges");
}

/// Configures OpenBao's database engine with a static role for `goldmane_edges`.
pub fn static_role(bao: &OpenBao, pg: &Postgres) {
    bao.bao(&["secrets", "enable", "database"]);
    bao.bao(&[
        "write",
        "database/config/goldmane",
        "plugin_name=postgresql-database-plugin",
        &format!(
            "connection_url=postgresql://{{{{username}}}}:{{{{password}}}}@127.0.0.1:{}/postgres?sslmode=disable",
            pg.port()
        ),
        "username=postgres",
        &format!("password={PG_SUPERUSER_PASSWORD}"),
        "allowed_roles=*",
        "verify_connection=true",
    ]);
    bao.bao(&[
        "write",
        "database/static-roles/pg-goldmane-edges",
        "db_name=goldmane",
        "username=goldmane_edges",
        "rotation_period=604800",
    ]);
}

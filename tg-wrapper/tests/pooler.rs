//! `tg doctor` names a pooler that does not keep a session per client: a
//! real PgBouncer on loopback in front of a real PostgreSQL, in each of its
//! pool modes, and PostgreSQL directly.
//!
//! PgBouncer refuses to run as root ("PgBouncer should not run as root");
//! as root the test starts it with `-u postgres`, PgBouncer's own switch to
//! another user, which reads the files here (owned by that user).

use std::io::Read;
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use testsupport::{PG_SUPERUSER_PASSWORD, Postgres, free_port, is_root, run_ok};
use tg_wrapper::pooler::{Finding, probe};

/// The pgbouncer binary (Debian installs it in /usr/sbin), or a panic
/// naming the fix: this test never passes without the real PgBouncer.
fn pgbouncer_bin() -> PathBuf {
    testsupport::find_bin("pgbouncer")
        .or_else(|| {
            let p = PathBuf::from("/usr/sbin/pgbouncer");
            p.is_file().then_some(p)
        })
        .unwrap_or_else(|| {
            panic!("pgbouncer is not installed: run scripts/install-deps.sh (apt package pgbouncer); this test needs the real PgBouncer")
        })
}

struct PgBouncer {
    dir: tempfile::TempDir,
    port: u16,
    child: Child,
}

impl PgBouncer {
    /// PgBouncer in `mode` (session / transaction / statement) with
    /// `extra` config lines, forwarding database `state` to `pg`'s
    /// `postgres` database. Clients log in with SCRAM as the superuser;
    /// PgBouncer logs in to PostgreSQL with the same password.
    fn start(pg: &Postgres, mode: &str, extra: &str) -> PgBouncer {
        let bin = pgbouncer_bin();
        let dir = tempfile::Builder::new()
            .prefix("tg-pgbouncer-")
            .tempdir()
            .unwrap();
        let port = free_port();
        let users = dir.path().join("users.txt");
        std::fs::write(
            &users,
            format!("\"postgres\" \"{PG_SUPERUSER_PASSWORD}\"\n"),
        )
        .unwrap();
        let ini = dir.path().join("pgbouncer.ini");
        std::fs::write(
            &ini,
            format!(
                "[databases]\nstate = host=127.0.0.1 port={} dbname=postgres\n\n\
                 [pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n\
                 auth_type = scram-sha-256\nauth_file = {}\npool_mode = {mode}\n{extra}\n",
                pg.port(),
                users.display()
            ),
        )
        .unwrap();
        let log = dir.path().join("pgbouncer.log");
        let out = std::fs::File::create(&log).unwrap();
        let mut cmd = Command::new(bin);
        if is_root() {
            run_ok(
                Command::new("chown")
                    .arg("-R")
                    .arg("postgres:")
                    .arg(dir.path()),
            );
            cmd.args(["-u", "postgres"]);
        }
        cmd.arg(&ini)
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out);
        let mut child = cmd.spawn().expect("spawn pgbouncer");
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            let exited = child.try_wait().unwrap();
            if exited.is_some() || Instant::now() > deadline {
                let _ = child.kill();
                panic!(
                    "pgbouncer ({mode}) did not listen on {port} ({exited:?}):\n{}",
                    read(&log)
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        PgBouncer { dir, port, child }
    }

    fn url(&self) -> String {
        format!(
            "postgres://postgres:{PG_SUPERUSER_PASSWORD}@127.0.0.1:{}/state?sslmode=disable",
            self.port
        )
    }

    fn log(&self) -> String {
        read(&self.dir.path().join("pgbouncer.log"))
    }
}

impl Drop for PgBouncer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn read(p: &std::path::Path) -> String {
    let mut s = String::new();
    if let Ok(mut f) = std::fs::File::open(p) {
        let _ = f.read_to_string(&mut s);
    }
    s
}

fn doctor(conn: &str) -> (Option<i32>, String) {
    let dir = testsupport::tg::doctor_repo();
    let out: Output = testsupport::tg::doctor(
        env!("CARGO_BIN_EXE_tg"),
        dir.path(),
        &[("TG_ENGINE", "terraform"), ("PG_CONN_STR", conn)],
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    eprintln!("{text}");
    assert!(
        !text.contains(PG_SUPERUSER_PASSWORD),
        "password printed:\n{text}"
    );
    (out.status.code(), testsupport::tg::pg_lock_line(&text))
}

/// PgBouncer's pool modes that hand the server backend back after each
/// transaction or statement: doctor fails and names cause and fix.
#[test]
fn transaction_and_statement_pooling_are_named() {
    let pg = Postgres::start();
    for mode in ["transaction", "statement"] {
        let bouncer = PgBouncer::start(&pg, mode, "");
        let finding = probe(&bouncer.url())
            .unwrap_or_else(|e| panic!("probe through pgbouncer ({mode}): {e}\n{}", bouncer.log()));
        eprintln!("pgbouncer {mode}: {finding:?}");
        let Finding::Pooled(seen) = finding else {
            panic!("{mode} pooling not detected: {finding:?}");
        };
        // PgBouncer reuses the backend it was last given (LIFO): the
        // second client runs on the backend the first just released.
        assert!(
            seen.iter()
                .any(|s| s.starts_with("two open connections ran on the same backend pid")),
            "{mode}: {seen:?}"
        );
        let (code, line) = doctor(&bouncer.url());
        eprintln!("{line}");
        assert_eq!(code, Some(1), "{mode}: {line}");
        assert!(
            line.starts_with(
                "FAIL pg lock: the state database connection goes through a pooler in transaction or statement mode"
            ),
            "{mode}: {line}"
        );
        assert!(line.contains("session advisory lock"), "{line}");
        assert!(
            line.contains("connect to PostgreSQL directly") && line.contains("pool_mode = session"),
            "{line}"
        );
        // The probe released what it took: no advisory lock is left on
        // any server backend.
        let left = pg.psql(
            "postgres",
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'",
        );
        assert_eq!(left.trim(), "0", "{mode}: advisory locks left behind");
    }
}

/// Session pooling and a direct connection keep one session per client:
/// doctor passes, and the two connections report two stable backends.
#[test]
fn session_pooling_and_direct_pass() {
    let pg = Postgres::start();
    let bouncer = PgBouncer::start(&pg, "session", "");
    for (what, url) in [
        ("pgbouncer session", bouncer.url()),
        ("direct", pg.superuser_url("postgres")),
    ] {
        let finding =
            probe(&url).unwrap_or_else(|e| panic!("probe {what}: {e}\n{}", bouncer.log()));
        eprintln!("{what}: {finding:?}");
        let Finding::Sessions { a, b, rounds } = finding else {
            panic!("{what} taken for a transaction pooler: {finding:?}");
        };
        assert_ne!(a, b, "{what}");
        assert!(rounds >= 2, "{what}");
        let (code, line) = doctor(&url);
        eprintln!("{line}");
        assert_eq!(code, Some(0), "{what}: {line}");
        assert!(
            line.starts_with("PASS pg lock: pg_advisory_lock + unlock round trip")
                && line.contains("each connection keeps its own session"),
            "{what}: {line}"
        );
    }
}

/// When the probe cannot run to the end, doctor cannot tell and fails,
/// naming why. Here the role may hold one connection (a real PostgreSQL
/// `CONNECTION LIMIT 1`), so connection B is refused.
#[test]
fn cannot_tell_fails_closed() {
    let pg = Postgres::start();
    pg.psql(
        "postgres",
        "CREATE ROLE solo LOGIN PASSWORD 'solo-pw' CONNECTION LIMIT 1",
    );
    let url = format!(
        "postgres://solo:solo-pw@127.0.0.1:{}/postgres?sslmode=disable",
        pg.port()
    );
    let err = probe(&url).expect_err("a second connection was admitted");
    eprintln!("CONNECTION LIMIT 1: {err}");
    assert!(
        err.starts_with("connection B: ") && err.contains("too many connections for role"),
        "{err}"
    );
    let (code, line) = doctor(&url);
    eprintln!("{line}");
    assert_eq!(code, Some(1), "{line}");
    assert!(
        line.starts_with("FAIL pg lock: state database: connection B: ")
            && line.contains("too many connections for role")
            && line.contains("tg cannot tell whether the connection keeps a session per client"),
        "{line}"
    );
    assert!(!line.contains("solo-pw"), "{line}");
}

/// PgBouncer handing out idle server connections round-robin
/// (`server_round_robin = 1`) with several already open: A's next
/// statement lands on another backend, so A's lock is not where A is.
#[test]
fn round_robin_pooling_is_named() {
    let pg = Postgres::start();
    let bouncer = PgBouncer::start(&pg, "transaction", "server_round_robin = 1");
    // Four clients each inside a transaction hold four server
    // connections; committing leaves four idle in the pool.
    let mut clients: Vec<postgres::Client> = (0..4)
        .map(|_| postgres::Client::connect(&bouncer.url(), postgres::NoTls).unwrap())
        .collect();
    let mut pids = Vec::new();
    for c in &mut clients {
        c.simple_query("BEGIN").unwrap();
        pids.push(
            c.query_one("SELECT pg_backend_pid()", &[])
                .unwrap()
                .get::<_, i32>(0),
        );
    }
    for c in &mut clients {
        c.simple_query("COMMIT").unwrap();
    }
    drop(clients);
    eprintln!("pool's server backends: {pids:?}");
    let finding = probe(&bouncer.url()).unwrap_or_else(|e| panic!("probe: {e}\n{}", bouncer.log()));
    eprintln!("round robin: {finding:?}");
    let Finding::Pooled(seen) = finding else {
        panic!("round-robin transaction pooling not detected: {finding:?}");
    };
    assert!(
        seen.iter()
            .any(|s| s.starts_with("connection A's statements ran on backend pid")),
        "{seen:?}"
    );
    // The lock left on A's first backend was released from whichever
    // connection landed there.
    let left = pg.psql(
        "postgres",
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'",
    );
    assert_eq!(left.trim(), "0", "advisory locks left behind");
    let (code, line) = doctor(&bouncer.url());
    assert_eq!(code, Some(1), "{line}");
    assert!(
        line.starts_with("FAIL pg lock: the state database connection goes through a pooler"),
        "{line}"
    );
}

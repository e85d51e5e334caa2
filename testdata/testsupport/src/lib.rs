//! Real servers for tests, started on loopback by the tests themselves,
//! the command helpers tests share ([`git`], [`wait_for`], [`tg`]), and
//! service-account JWTs for Vault's Kubernetes login ([`jwt_key`],
//! [`service_account_jwt`], [`OpenBao::enable_kubernetes_jwt_login`]).
//!
//! Every starter panics with a message naming the missing tool or the server's
//! own log when something is wrong: a test that needs a real component must
//! fail loudly, never skip. Each server lives in its own temp directory and is
//! shut down when the handle is dropped.

use std::fs;
use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use std::os::unix::process::CommandExt;

mod commands;
mod service_account;
pub mod tg;

pub use commands::{
    age_keygen, assert_ok, commit_all, git, output_text, wait_for, write_executable, write_file,
};
pub use service_account::{jwt_key, service_account_jwt};

/// Superuser password of every [`Postgres`] started here (TCP logins use
/// scram-sha-256, so credentials are really checked).
pub const PG_SUPERUSER_PASSWORD: &str = "testsupport-superuser";

/// Returns the absolute path of `name` on PATH, or panics with the fix.
pub fn require_bin(name: &str) -> PathBuf {
    find_bin(name).unwrap_or_else(|| {
        panic!(
            "{name} is not on PATH: run scripts/install-deps.sh (this test needs the real {name})"
        )
    })
}

/// Looks `name` up on PATH without panicking.
pub fn find_bin(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// A loopback TCP port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind 127.0.0.1:0")
}

/// Runs a command to completion, panicking with its output on failure.
pub fn run_ok(cmd: &mut Command) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    if !out.status.success() {
        panic!(
            "{cmd:?} failed with {}\nstdout:\n{}\nstderr:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    out
}

/// Waits until something accepts TCP connections on 127.0.0.1:`port`.
fn wait_for_port(port: u16, child: &mut Child, what: &str, log: &Path) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "{what} exited with {status} before listening:\n{}",
                read_log(log)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!(
        "{what} did not listen on 127.0.0.1:{port} within 60 s:\n{}",
        read_log(log)
    );
}

fn read_log(path: &Path) -> String {
    let mut s = String::new();
    if let Ok(mut f) = fs::File::open(path) {
        let _ = f.read_to_string(&mut s);
    }
    s
}

fn log_file(path: &Path) -> (Stdio, Stdio) {
    let f = fs::File::create(path).expect("create server log");
    let g = f.try_clone().expect("clone server log handle");
    (Stdio::from(f), Stdio::from(g))
}

/// Stops a server process: a polite signal first, SIGKILL after `grace`.
fn stop(child: &mut Child, signal: &str, grace: Duration) {
    let _ = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(child.id().to_string())
        .stderr(Stdio::null())
        .status();
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Whether the tests run as root (servers that refuse root then run as
/// another user).
pub fn is_root() -> bool {
    // `id -u` keeps this crate free of unsafe libc calls.
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn user_ids(user: &str) -> (u32, u32) {
    let get = |flag: &str| -> u32 {
        let out = run_ok(Command::new("id").arg(flag).arg(user));
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("`id {flag} {user}` printed no number"))
    };
    (get("-u"), get("-g"))
}

/// Finds a PostgreSQL server binary: PATH first, then Debian's versioned dir.
fn pg_bin(name: &str) -> PathBuf {
    if let Some(p) = find_bin(name) {
        return p;
    }
    let mut dirs: Vec<PathBuf> = fs::read_dir("/usr/lib/postgresql")
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.path().join("bin"))
                .collect()
        })
        .unwrap_or_default();
    dirs.sort();
    dirs.into_iter()
        .rev()
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "{name} not found on PATH or under /usr/lib/postgresql: run scripts/install-deps.sh"
            )
        })
}

/// A throwaway PostgreSQL cluster on 127.0.0.1.
///
/// Unix-socket logins (used by [`Postgres::psql`]) are trusted; TCP logins
/// need a password (superuser `postgres` / [`PG_SUPERUSER_PASSWORD`]). When the
/// tests run as root the server runs as the `postgres` system user, because
/// PostgreSQL refuses to run as root.
pub struct Postgres {
    dir: tempfile::TempDir,
    port: u16,
    child: Child,
}

impl Postgres {
    pub fn start() -> Postgres {
        let initdb = pg_bin("initdb");
        let postgres = pg_bin("postgres");
        let dir = tempfile::Builder::new()
            .prefix("testsupport-pg-")
            .tempdir()
            .expect("temp dir");
        let data = dir.path().join("data");
        let pwfile = dir.path().join("pw");
        fs::write(&pwfile, PG_SUPERUSER_PASSWORD).expect("write pwfile");
        let ids = is_root().then(|| user_ids("postgres"));
        if let Some((uid, gid)) = ids {
            run_ok(
                Command::new("chown")
                    .arg("-R")
                    .arg(format!("{uid}:{gid}"))
                    .arg(dir.path()),
            );
        }
        let mut init = Command::new(&initdb);
        init.arg("-D")
            .arg(&data)
            .args([
                "-U",
                "postgres",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
            ])
            .arg(format!("--pwfile={}", pwfile.display()))
            .args(["-E", "UTF8", "--locale=C", "--no-sync"]);
        if let Some((uid, gid)) = ids {
            init.uid(uid).gid(gid);
        }
        run_ok(&mut init);
        let port = free_port();
        let log = dir.path().join("server.log");
        let (out, err) = log_file(&log);
        if let Some((uid, gid)) = ids {
            run_ok(Command::new("chown").arg(format!("{uid}:{gid}")).arg(&log));
        }
        let mut cmd = Command::new(&postgres);
        cmd.arg("-D")
            .arg(&data)
            .arg("-k")
            .arg(dir.path())
            .args(["-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"])
            .args(["-c", "synchronous_commit=off", "-c", "full_page_writes=off"])
            .args(["-c", "max_connections=200"])
            .arg("-p")
            .arg(port.to_string())
            .stdout(out)
            .stderr(err);
        if let Some((uid, gid)) = ids {
            cmd.uid(uid).gid(gid);
        }
        let mut child = cmd.spawn().expect("spawn postgres");
        wait_for_port(port, &mut child, "postgres", &log);
        let pg = Postgres { dir, port, child };
        // The port accepts before recovery finishes; wait for real queries.
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ok = pg
                .psql_cmd("postgres", "select 1")
                .output()
                .map(|o| o.status.success());
            if matches!(ok, Ok(true)) {
                break;
            }
            if Instant::now() > deadline {
                panic!("postgres never answered queries:\n{}", read_log(&log));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        pg
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The unix-socket directory (trusted logins, no password).
    pub fn socket_dir(&self) -> &Path {
        self.dir.path()
    }

    /// A TCP connection URL for the superuser, password included.
    pub fn superuser_url(&self, db: &str) -> String {
        format!(
            "postgres://postgres:{PG_SUPERUSER_PASSWORD}@127.0.0.1:{}/{db}?sslmode=disable",
            self.port
        )
    }

    fn psql_cmd(&self, db: &str, sql: &str) -> Command {
        let mut cmd = Command::new(pg_bin("psql"));
        cmd.arg("-X")
            .arg("-q")
            .args(["-v", "ON_ERROR_STOP=1", "-At"])
            .arg("-h")
            .arg(self.dir.path())
            .arg("-p")
            .arg(self.port.to_string())
            .args(["-U", "postgres", "-d", db, "-c", sql]);
        cmd
    }

    /// Runs SQL over the unix socket as superuser; returns unaligned output.
    /// Turns TLS on: a new CA and a server certificate for 127.0.0.1 /
    /// localhost signed by it, written into the data directory (owned by
    /// the server's user, mode 600), then a reload, waited for until the
    /// server says `ssl` is on. Returns the CA certificate (PEM). A test
    /// that also wants plaintext refused edits pg_hba.conf first: this
    /// reload applies it too.
    pub fn enable_tls(&self) -> String {
        let ca_key = rcgen::KeyPair::generate().expect("CA key");
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "testsupport PostgreSQL CA");
        let ca = ca_params.self_signed(&ca_key).expect("CA certificate");
        let issuer = rcgen::Issuer::new(ca_params, ca_key);
        let key = rcgen::KeyPair::generate().expect("server key");
        let params =
            rcgen::CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
                .expect("server params");
        let cert = params.signed_by(&key, &issuer).expect("server certificate");
        let dir = self.socket_dir();
        let crt = dir.join("server.crt");
        let keyfile = dir.join("server.key");
        fs::write(&crt, cert.pem()).expect("write server.crt");
        fs::write(&keyfile, key.serialize_pem()).expect("write server.key");
        // The server may run as another user (root runs it as `postgres`):
        // the key must be that user's and private to it.
        let out = run_ok(Command::new("stat").args(["-c", "%u:%g"]).arg(dir));
        let owner = String::from_utf8_lossy(&out.stdout).trim().to_string();
        for f in [&crt, &keyfile] {
            run_ok(Command::new("chown").arg(&owner).arg(f));
            run_ok(Command::new("chmod").arg("600").arg(f));
        }
        for sql in [
            format!("ALTER SYSTEM SET ssl_cert_file = '{}'", crt.display()),
            format!("ALTER SYSTEM SET ssl_key_file = '{}'", keyfile.display()),
            "ALTER SYSTEM SET ssl = on".to_string(),
            "SELECT pg_reload_conf()".to_string(),
        ] {
            self.psql("postgres", &sql);
        }
        // The reload is asynchronous: wait until the server says TLS is on.
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.psql("postgres", "SHOW ssl").trim() != "on" {
            assert!(Instant::now() < deadline, "PostgreSQL never turned ssl on");
            std::thread::sleep(Duration::from_millis(50));
        }
        ca.pem()
    }

    pub fn psql(&self, db: &str, sql: &str) -> String {
        let out = run_ok(&mut self.psql_cmd(db, sql));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn create_db(&self, name: &str) {
        self.psql("postgres", &format!("CREATE DATABASE \"{name}\""));
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        // SIGQUIT = immediate shutdown: fine for a throwaway cluster.
        stop(&mut self.child, "QUIT", Duration::from_secs(10));
    }
}

/// An OpenBao dev server (Vault-compatible API) on 127.0.0.1.
///
/// Dev mode: in-memory storage, unsealed, root token [`OpenBao::token`],
/// KV v2 mounted at `secret/`. Tests enable Transit/database engines
/// themselves with [`OpenBao::bao`].
pub struct OpenBao {
    dir: tempfile::TempDir,
    port: u16,
    child: Child,
}

impl OpenBao {
    pub const ROOT_TOKEN: &'static str = "root";

    pub fn start() -> OpenBao {
        let bao = require_bin("bao");
        let dir = tempfile::Builder::new()
            .prefix("testsupport-bao-")
            .tempdir()
            .expect("temp dir");
        let port = free_port();
        let log = dir.path().join("server.log");
        let (out, err) = log_file(&log);
        let mut child = Command::new(bao)
            .args(["server", "-dev", "-dev-no-store-token"])
            .arg(format!("-dev-root-token-id={}", Self::ROOT_TOKEN))
            .arg(format!("-dev-listen-address=127.0.0.1:{port}"))
            .env("HOME", dir.path())
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("spawn bao server");
        wait_for_port(port, &mut child, "bao server -dev", &log);
        let server = OpenBao { dir, port, child };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ok = server
                .bao_cmd(&["status"])
                .output()
                .map(|o| o.status.success());
            if matches!(ok, Ok(true)) {
                break;
            }
            if Instant::now() > deadline {
                panic!("bao dev server never became ready:\n{}", read_log(&log));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    pub fn addr(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn token(&self) -> &'static str {
        Self::ROOT_TOKEN
    }

    /// A `bao` CLI command pointed at this server with the root token.
    pub fn bao_cmd(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(require_bin("bao"));
        cmd.args(args)
            .env("BAO_ADDR", self.addr())
            .env("VAULT_ADDR", self.addr())
            .env("BAO_TOKEN", Self::ROOT_TOKEN)
            .env("VAULT_TOKEN", Self::ROOT_TOKEN)
            .env("HOME", self.dir.path());
        cmd
    }

    /// Runs the `bao` CLI against this server; panics on failure.
    pub fn bao(&self, args: &[&str]) -> String {
        let out = run_ok(&mut self.bao_cmd(args));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The server's log so far (for assertions that secrets never leak).
    pub fn log(&self) -> String {
        read_log(&self.dir.path().join("server.log"))
    }
}

impl Drop for OpenBao {
    fn drop(&mut self) {
        stop(&mut self.child, "TERM", Duration::from_secs(5));
    }
}

/// A real OCI distribution registry (Debian's `docker-registry`) on
/// 127.0.0.1 with filesystem storage and deletes enabled, no auth.
pub struct Registry {
    dir: tempfile::TempDir,
    port: u16,
    child: Child,
}

impl Registry {
    pub fn start() -> Registry {
        let bin = require_bin("docker-registry");
        let dir = tempfile::Builder::new()
            .prefix("testsupport-registry-")
            .tempdir()
            .expect("temp dir");
        let port = free_port();
        let config = dir.path().join("config.yml");
        fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n",
                dir.path().join("data").display()
            ),
        )
        .expect("write registry config");
        let log = dir.path().join("server.log");
        let (out, err) = log_file(&log);
        let mut child = Command::new(bin)
            .arg("serve")
            .arg(&config)
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("spawn docker-registry");
        wait_for_port(port, &mut child, "docker-registry", &log);
        Registry { dir, port, child }
    }

    /// `127.0.0.1:<port>` (plain HTTP).
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn log(&self) -> String {
        read_log(&self.dir.path().join("server.log"))
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        stop(&mut self.child, "TERM", Duration::from_secs(5));
    }
}

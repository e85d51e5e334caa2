//! Where the connection settings and credentials come from.
//!
//! Order, first found wins: explicit provider configuration, then the
//! environment (`DATABASE_URL`, then `PGHOST`/`PGPORT`/`PGDATABASE`/`PGUSER`/
//! `PGPASSWORD`/`PGSSLMODE`/`PGSSLROOTCERT`), then — for the password only —
//! the Vault static role (`<vault_mount>/static-creds/<vault_static_role>`,
//! address and token from `VAULT_ADDR`/`VAULT_TOKEN`), read at configure time.
//! The role's password rotates weekly (seeds/001 line 8337), so it lives only
//! in memory: it is never written to state, logs or error messages.

use std::time::Duration;

use infra_clients::pg_tls;
use infra_clients::vault;

/// What the provider configuration says (all optional).
#[derive(Default, Clone)]
pub struct Input {
    pub host: Option<String>,
    pub port: Option<u16>,
    pub database: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub database_url: Option<String>,
    pub sslmode: Option<String>,
    pub sslrootcert: Option<String>,
    pub vault_static_role: Option<String>,
    pub vault_mount: Option<String>,
    pub statement_timeout: Option<Duration>,
}

/// Where the password came from (for logs: never the password itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordSource {
    Config,
    DatabaseUrl,
    PgPassword,
    Vault,
    None,
}

/// Resolved settings: everything needed to open connections.
#[derive(Clone)]
pub struct Settings {
    pub config: postgres::Config,
    pub tls: Option<pg_tls::MakeRustls>,
    pub statement_timeout: Duration,
    pub password_source: PasswordSource,
    /// `host:port/database as user`, for error messages.
    pub target: String,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("target", &self.target)
            .field("tls", &self.tls.is_some())
            .field("statement_timeout", &self.statement_timeout)
            .field("password_source", &self.password_source)
            .finish()
    }
}

pub const DEFAULT_DATABASE: &str = "goldmane_edges";
pub const DEFAULT_USERNAME: &str = "goldmane_edges";
pub const DEFAULT_VAULT_ROLE: &str = "pg-goldmane-edges";
pub const DEFAULT_VAULT_MOUNT: &str = "database";
pub const DEFAULT_STATEMENT_TIMEOUT: Duration = Duration::from_secs(30);

/// Parts of a `postgres://` URL that matter here. The `postgres` crate's own
/// parser is not used because it rejects `sslmode=verify-full`, which libpq
/// accepts.
#[derive(Default)]
struct Url {
    host: Option<String>,
    port: Option<u16>,
    database: Option<String>,
    username: Option<String>,
    password: Option<String>,
    sslmode: Option<String>,
    sslrootcert: Option<String>,
}

/// Percent-decodes one URL component. A `%` not followed by two hex digits
/// is an error, as in libpq (the decoder alone would keep it literally).
fn percent_decode(s: &str, what: &str) -> Result<String, String> {
    let bytes = s.as_bytes();
    let malformed = bytes.iter().enumerate().any(|(i, &b)| {
        b == b'%'
            && !bytes
                .get(i + 1..i + 3)
                .is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit))
    });
    if malformed {
        return Err(format!("{what}: bad percent-escape in the URL"));
    }
    percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .map(|c| c.into_owned())
        .map_err(|_| format!("{what}: the URL decodes to invalid UTF-8"))
}

/// Parses `postgres[ql]://[user[:password]@]host[:port][/database][?k=v&…]`.
/// Errors name the URL's source but never echo the URL (it may hold a password).
fn parse_url(url: &str, source: &str) -> Result<Url, String> {
    if !url.starts_with("postgres://") && !url.starts_with("postgresql://") {
        return Err(format!(
            "{source} must start with postgres:// or postgresql://"
        ));
    }
    let parsed = url::Url::parse(url).map_err(|e| match e {
        url::ParseError::InvalidPort => format!("{source}: the port is not a number 1-65535"),
        // The parser's messages name the problem, never the input.
        other => format!("{source} is not a valid URL: {other}"),
    })?;
    let mut out = Url::default();
    if !parsed.username().is_empty() {
        out.username = Some(percent_decode(parsed.username(), source)?);
    }
    if let Some(p) = parsed.password() {
        out.password = Some(percent_decode(p, source)?);
    }
    out.host = match parsed.host() {
        Some(url::Host::Domain(h)) if !h.is_empty() => Some(percent_decode(h, source)?),
        Some(url::Host::Ipv4(a)) => Some(a.to_string()),
        Some(url::Host::Ipv6(a)) => Some(a.to_string()),
        _ => None,
    };
    out.port = parsed.port();
    let path = parsed.path().strip_prefix('/').unwrap_or(parsed.path());
    if !path.is_empty() {
        out.database = Some(percent_decode(path, source)?);
    }
    // libpq decodes query values with plain percent-decoding ('+' stays '+'),
    // not as an HTML form would, so `query_pairs` does not fit.
    for pair in parsed
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
    {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let v = percent_decode(v, source)?;
        match k {
            "sslmode" => out.sslmode = Some(v),
            "sslrootcert" => out.sslrootcert = Some(v),
            "user" => out.username = Some(v),
            "password" => out.password = Some(v),
            "host" => out.host = Some(v),
            "port" => {
                out.port = Some(
                    v.parse()
                        .map_err(|_| format!("{source}: the port is not a number 1-65535"))?,
                )
            }
            "dbname" => out.database = Some(v),
            // Harmless libpq options we do not act on are ignored.
            _ => {}
        }
    }
    Ok(out)
}

fn nonempty(v: Option<String>) -> Option<String> {
    v.filter(|s| !s.is_empty())
}

/// Resolves settings from `input`, the environment (`env`) and Vault.
pub fn resolve(input: &Input, env: &dyn Fn(&str) -> Option<String>) -> Result<Settings, String> {
    let env = |k: &str| nonempty(env(k));
    let (url, url_source) = match (nonempty(input.database_url.clone()), env("DATABASE_URL")) {
        (Some(u), _) => (parse_url(&u, "database_url")?, PasswordSource::Config),
        (None, Some(u)) => (parse_url(&u, "DATABASE_URL")?, PasswordSource::DatabaseUrl),
        (None, None) => (Url::default(), PasswordSource::None),
    };
    let host = nonempty(input.host.clone())
        .or(url.host)
        .or_else(|| env("PGHOST"))
        .ok_or("no PostgreSQL host: set the provider's host or database_url, or DATABASE_URL or PGHOST")?;
    let port = match input.port.or(url.port) {
        Some(p) => p,
        None => match env("PGPORT") {
            Some(p) => p
                .parse()
                .map_err(|_| format!("PGPORT={p:?} is not a port number"))?,
            None => 5432,
        },
    };
    let database = nonempty(input.database.clone())
        .or(url.database)
        .or_else(|| env("PGDATABASE"))
        .unwrap_or_else(|| DEFAULT_DATABASE.into());
    let mut username = nonempty(input.username.clone())
        .or(url.username)
        .or_else(|| env("PGUSER"))
        .unwrap_or_else(|| DEFAULT_USERNAME.into());

    let (password, password_source) = if let Some(p) = nonempty(input.password.clone()) {
        (Some(p), PasswordSource::Config)
    } else if let Some(p) = url.password {
        (Some(p), url_source)
    } else if let Some(p) = env("PGPASSWORD") {
        (Some(p), PasswordSource::PgPassword)
    } else if let Some(addr) = env("VAULT_ADDR") {
        let token = env("VAULT_TOKEN").ok_or(
            "VAULT_ADDR is set but VAULT_TOKEN is not: log in to Vault (or set a password) so the provider can read the database static role",
        )?;
        let role =
            nonempty(input.vault_static_role.clone()).unwrap_or_else(|| DEFAULT_VAULT_ROLE.into());
        let mount =
            nonempty(input.vault_mount.clone()).unwrap_or_else(|| DEFAULT_VAULT_MOUNT.into());
        let creds =
            vault::static_creds(&addr, &token, &mount, &role, env("VAULT_CACERT").as_deref())?;
        username = creds.username;
        (Some(creds.password), PasswordSource::Vault)
    } else {
        (None, PasswordSource::None)
    };

    let sslmode = nonempty(input.sslmode.clone())
        .or(url.sslmode)
        .or_else(|| env("PGSSLMODE"))
        .unwrap_or_else(|| "prefer".into());
    let sslrootcert = nonempty(input.sslrootcert.clone())
        .or(url.sslrootcert)
        .or_else(|| env("PGSSLROOTCERT"));
    let ca = match &sslrootcert {
        Some(path) => Some(
            std::fs::read(path).map_err(|e| format!("cannot read sslrootcert {path:?}: {e}"))?,
        ),
        None => None,
    };
    let mode = pg_tls::SslMode::parse(&sslmode)?;
    let tls = pg_tls::connector(mode, ca.as_deref())?;

    let mut config = postgres::Config::new();
    config
        .host(&host)
        .port(port)
        .dbname(&database)
        .user(&username)
        .ssl_mode(mode.postgres())
        .application_name("terraform-provider-goldmane-edges")
        .connect_timeout(Duration::from_secs(10));
    if let Some(p) = &password {
        config.password(p);
    }
    Ok(Settings {
        config,
        tls,
        statement_timeout: input.statement_timeout.unwrap_or(DEFAULT_STATEMENT_TIMEOUT),
        password_source,
        target: format!("{host}:{port}/{database} as {username}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| m.get(k).cloned()
    }

    #[test]
    fn explicit_config_wins_over_env() {
        let input = Input {
            host: Some("db.example".into()),
            password: Some("from-config".into()),
            ..Input::default()
        };
        let s = resolve(
            &input,
            &env_of(&[
                ("DATABASE_URL", "postgres://u:from-url@other:6543/x"),
                ("PGPASSWORD", "from-env"),
            ]),
        )
        .unwrap();
        assert_eq!(s.password_source, PasswordSource::Config);
        assert_eq!(s.config.get_password(), Some(&b"from-config"[..]));
        assert_eq!(s.target, "db.example:6543/x as u");
    }

    #[test]
    fn database_url_then_pg_env() {
        let s = resolve(
            &Input::default(),
            &env_of(&[
                (
                    "DATABASE_URL",
                    "postgresql://goldmane_edges:p%40ss@pg:5433/goldmane_edges?sslmode=disable",
                ),
                ("PGPASSWORD", "from-env"),
            ]),
        )
        .unwrap();
        assert_eq!(s.password_source, PasswordSource::DatabaseUrl);
        assert_eq!(s.config.get_password(), Some(&b"p@ss"[..]));
        assert!(s.tls.is_none());
        let s = resolve(
            &Input::default(),
            &env_of(&[
                ("PGHOST", "h"),
                ("PGUSER", "me"),
                ("PGPASSWORD", "pw"),
                ("PGPORT", "7"),
            ]),
        )
        .unwrap();
        assert_eq!(s.password_source, PasswordSource::PgPassword);
        assert_eq!(s.target, "h:7/goldmane_edges as me");
        assert!(!format!("{s:?}").contains("pw\""));
    }

    #[test]
    fn errors_never_echo_the_url() {
        let e = resolve(
            &Input::default(),
            &env_of(&[("DATABASE_URL", "mysql://u:s3cret@h/db")]),
        )
        .unwrap_err();
        assert!(!e.contains("s3cret"), "{e}");
        let e = resolve(
            &Input::default(),
            &env_of(&[("DATABASE_URL", "postgres://u:s3cret@h:notaport/db")]),
        )
        .unwrap_err();
        assert!(!e.contains("s3cret"), "{e}");
        let e = resolve(&Input::default(), &env_of(&[])).unwrap_err();
        assert!(e.contains("no PostgreSQL host"), "{e}");
        let e = resolve(
            &Input {
                host: Some("h".into()),
                sslmode: Some("maybe".into()),
                ..Input::default()
            },
            &env_of(&[]),
        )
        .unwrap_err();
        assert!(e.contains("sslmode"), "{e}");
        let e = resolve(
            &Input {
                host: Some("h".into()),
                sslmode: Some("verify-full".into()),
                ..Input::default()
            },
            &env_of(&[]),
        )
        .unwrap_err();
        assert!(e.contains("sslrootcert"), "{e}");
    }

    #[test]
    fn url_forms_libpq_accepts() {
        let url = |u: &str| parse_url(u, "DATABASE_URL");
        let u = url("postgresql://me:p%40ss%2Bw+ord@[::1]:6543/my%20db?sslmode=verify-full&sslrootcert=/ca%2B.pem&application_name=x").unwrap();
        assert_eq!(u.username.as_deref(), Some("me"));
        assert_eq!(u.password.as_deref(), Some("p@ss+w+ord"));
        assert_eq!(u.host.as_deref(), Some("::1"));
        assert_eq!(u.port, Some(6543));
        assert_eq!(u.database.as_deref(), Some("my db"));
        assert_eq!(u.sslmode.as_deref(), Some("verify-full"));
        assert_eq!(u.sslrootcert.as_deref(), Some("/ca+.pem"));
        let u =
            url("postgres:///db?host=/run/postgresql&port=5433&user=a&password=b%2Bc+d").unwrap();
        assert_eq!(u.host.as_deref(), Some("/run/postgresql"));
        assert_eq!((u.port, u.database.as_deref()), (Some(5433), Some("db")));
        assert_eq!(u.password.as_deref(), Some("b+c+d"), "'+' is not a space");
        let u = url("postgres://10.0.0.5").unwrap();
        assert_eq!(u.host.as_deref(), Some("10.0.0.5"));
        assert!(u.database.is_none() && u.username.is_none() && u.password.is_none());
        for bad in [
            "postgres://u:s3cret%zz@h/db",
            "postgres://u:s3cret@h:99999/db",
            "postgres://u:s3cret@h/db?port=x",
            "postgres://u:s3cret@h/db%",
            "postgres://u:s3cret@[::1/db",
        ] {
            let e = url(bad).map(|_| ()).unwrap_err();
            assert!(!e.contains("s3cret"), "{e}");
            assert!(e.starts_with("DATABASE_URL"), "{e}");
        }
    }

    #[test]
    fn vault_needs_a_token() {
        let e = resolve(
            &Input {
                host: Some("h".into()),
                ..Input::default()
            },
            &env_of(&[("VAULT_ADDR", "http://127.0.0.1:1")]),
        )
        .unwrap_err();
        assert!(e.contains("VAULT_TOKEN"), "{e}");
    }
}

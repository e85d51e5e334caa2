//! A libpq connection string (`postgres://…` URL or `key=value` pairs), as
//! Terraform's `pg` backend takes it in `PG_CONN_STR`, turned into what the
//! `postgres` crate connects with.
//!
//! The crate's own parser refuses two things libpq accepts: the `sslmode`
//! values `verify-ca` / `verify-full`, and the `sslrootcert` option. Both
//! are taken out of the string here and become the TLS connector
//! ([`crate::pg_tls`]); the rest goes to the crate's parser unchanged. As
//! with libpq, the string's own `sslmode` / `sslrootcert` win over the
//! `PGSSLMODE` / `PGSSLROOTCERT` environment, and `require` with a root
//! certificate file that exists verifies the chain. Without any `sslmode`
//! it is `prefer` (the `postgres` crate's default; lib/pq's is `require`).

use std::str::FromStr;

use crate::pg_tls::{self, MakeRustls, SslMode};

/// What to connect with: the crate's settings and the TLS connector the
/// `sslmode` asks for (`None`: plaintext only).
pub struct Target {
    pub config: postgres::Config,
    pub tls: Option<MakeRustls>,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The config holds the password: only what is safe to print.
        f.debug_struct("Target")
            .field("hosts", &self.config.get_hosts())
            .field("ssl_mode", &self.config.get_ssl_mode())
            .field("tls", &self.tls.is_some())
            .finish()
    }
}

impl Target {
    /// Connects once with these settings.
    pub fn connect(&self) -> Result<postgres::Client, postgres::Error> {
        pg_tls::connect(&self.config, self.tls.as_ref())
    }
}

/// Parses `conn`; `env` looks up `PGSSLMODE` / `PGSSLROOTCERT` (the
/// process environment in production). Errors never hold the string
/// itself: it carries the password.
pub fn parse(conn: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Target, String> {
    let (rest, ssl) = split_ssl(conn)?;
    let mode = ssl
        .sslmode
        .or_else(|| env("PGSSLMODE").filter(|v| !v.is_empty()))
        .unwrap_or_else(|| "prefer".into());
    let mode = SslMode::parse(&mode)?;
    let rootcert = ssl
        .sslrootcert
        .or_else(|| env("PGSSLROOTCERT").filter(|v| !v.is_empty()));
    // libpq: "if a root CA file exists, the behavior of sslmode=require
    // will be the same as that of verify-ca" (libpq-ssl), and lib/pq, which
    // Terraform's pg backend uses, does the same.
    let mode = match &rootcert {
        Some(path) if mode == SslMode::Require && std::path::Path::new(path).exists() => {
            SslMode::VerifyCa
        }
        _ => mode,
    };
    let ca = match &rootcert {
        Some(path) if mode.verifies() => Some(
            std::fs::read(path).map_err(|e| format!("cannot read sslrootcert {path:?}: {e}"))?,
        ),
        _ => None,
    };
    let mut config = postgres::Config::from_str(&rest)
        .map_err(|e| format!("the connection string is not valid: {e}"))?;
    config.ssl_mode(mode.postgres());
    let tls = pg_tls::connector(mode, ca.as_deref())?;
    Ok(Target { config, tls })
}

/// The TLS options taken out of a connection string.
#[derive(Debug, Default, PartialEq, Eq)]
struct Ssl {
    sslmode: Option<String>,
    sslrootcert: Option<String>,
}

/// `conn` without `sslmode` / `sslrootcert`, and their values.
fn split_ssl(conn: &str) -> Result<(String, Ssl), String> {
    if conn.starts_with("postgres://") || conn.starts_with("postgresql://") {
        split_url(conn)
    } else {
        split_pairs(conn)
    }
}

fn split_url(conn: &str) -> Result<(String, Ssl), String> {
    let Some((base, query)) = conn.split_once('?') else {
        return Ok((conn.to_string(), Ssl::default()));
    };
    let mut ssl = Ssl::default();
    let mut kept = Vec::new();
    for param in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = param.split_once('=').unwrap_or((param, ""));
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8()
                .map(|v| v.into_owned())
                .map_err(|_| "the connection string has a parameter that is not UTF-8".to_string())
        };
        match decode(key)?.as_str() {
            "sslmode" => ssl.sslmode = Some(decode(value)?),
            "sslrootcert" => ssl.sslrootcert = Some(decode(value)?),
            _ => kept.push(param),
        }
    }
    let rest = if kept.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    Ok((rest, ssl))
}

/// libpq's `key = value` form: pairs apart by whitespace, spaces allowed
/// around `=`, a value either single-quoted or bare, `\` escaping the next
/// character in both. The pairs kept are written back quoted.
fn split_pairs(conn: &str) -> Result<(String, Ssl), String> {
    let mut ssl = Ssl::default();
    let mut kept = Vec::new();
    let mut chars = conn.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.peek().is_none() {
            break;
        }
        let mut key = String::new();
        while let Some(c) = chars.next_if(|c| *c != '=' && !c.is_whitespace()) {
            key.push(c);
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.next() != Some('=') {
            return Err(format!(
                "the connection string is not valid: option {key:?} has no `=`"
            ));
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let mut value = String::new();
        if chars.next_if_eq(&'\'').is_some() {
            loop {
                match chars.next() {
                    Some('\'') => break,
                    Some('\\') => value.extend(chars.next()),
                    Some(c) => value.push(c),
                    None => {
                        return Err(format!(
                            "the connection string is not valid: the value of {key:?} has no closing quote"
                        ));
                    }
                }
            }
        } else {
            while let Some(c) = chars.next_if(|c| !c.is_whitespace()) {
                if c == '\\' {
                    value.extend(chars.next());
                } else {
                    value.push(c);
                }
            }
        }
        match key.as_str() {
            "sslmode" => ssl.sslmode = Some(value),
            "sslrootcert" => ssl.sslrootcert = Some(value),
            _ => kept.push(format!(
                "{key}='{}'",
                value.replace('\\', "\\\\").replace('\'', "\\'")
            )),
        }
    }
    Ok((kept.join(" "), ssl))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn url_ssl_options_are_taken_out() {
        let (rest, ssl) = split_ssl(
            "postgres://u:p%3Fw@h:5/db?connect_timeout=3&sslmode=verify-full&sslrootcert=%2Fca%20dir%2Fca.pem",
        )
        .unwrap();
        assert_eq!(rest, "postgres://u:p%3Fw@h:5/db?connect_timeout=3");
        assert_eq!(ssl.sslmode.as_deref(), Some("verify-full"));
        assert_eq!(ssl.sslrootcert.as_deref(), Some("/ca dir/ca.pem"));
        let (rest, ssl) = split_ssl("postgresql://h/db?sslmode=require").unwrap();
        assert_eq!(rest, "postgresql://h/db");
        assert_eq!(ssl.sslmode.as_deref(), Some("require"));
        let (rest, ssl) = split_ssl("postgres://h/db").unwrap();
        assert_eq!((rest.as_str(), ssl), ("postgres://h/db", Ssl::default()));
    }

    #[test]
    fn key_value_ssl_options_are_taken_out_and_quotes_kept() {
        // `'it'` closes after `it`; libpq then reads `'s` as the next key:
        // refused, not guessed at.
        assert!(split_ssl("host=h password = 'it''s' sslmode=disable").is_err());
        let (rest, ssl) = split_ssl(
            "host=h  password = 'p \\' sslmode=x' sslmode = verify-ca sslrootcert='/a b/ca.pem' user=a\\ b",
        )
        .unwrap();
        assert_eq!(rest, "host='h' password='p \\' sslmode=x' user='a b'");
        assert_eq!(ssl.sslmode.as_deref(), Some("verify-ca"));
        assert_eq!(ssl.sslrootcert.as_deref(), Some("/a b/ca.pem"));
        let config = postgres::Config::from_str(&rest).unwrap();
        assert_eq!(config.get_password(), Some(&b"p ' sslmode=x"[..]));
        assert_eq!(config.get_user(), Some("a b"));
        assert!(split_ssl("host=h password='open").is_err());
        assert!(split_ssl("host").is_err());
    }

    #[test]
    fn sslmode_picks_the_connector() {
        use postgres::config::SslMode as Pg;
        let t = parse("postgres://u:p@h/db?sslmode=disable", &no_env).unwrap();
        assert_eq!(
            (t.config.get_ssl_mode(), t.tls.is_some()),
            (Pg::Disable, false)
        );
        let t = parse("postgres://u:p@h/db", &no_env).unwrap();
        assert_eq!(
            (t.config.get_ssl_mode(), t.tls.is_some()),
            (Pg::Prefer, true)
        );
        let t = parse("host=h sslmode=require", &no_env).unwrap();
        assert_eq!(
            (t.config.get_ssl_mode(), t.tls.is_some()),
            (Pg::Require, true)
        );
        // The environment is the default beneath the string.
        let env = |k: &str| (k == "PGSSLMODE").then(|| "require".to_string());
        let t = parse("postgres://h/db", &env).unwrap();
        assert_eq!(t.config.get_ssl_mode(), Pg::Require);
        let t = parse("postgres://h/db?sslmode=disable", &env).unwrap();
        assert_eq!(t.config.get_ssl_mode(), Pg::Disable);
    }

    #[test]
    fn verifying_modes_need_a_readable_root_certificate() {
        let err = parse("postgres://u:secret@h/db?sslmode=verify-full", &no_env).unwrap_err();
        assert!(err.contains("needs sslrootcert"), "{err}");
        let err = parse(
            "postgres://u:secret@h/db?sslmode=verify-ca&sslrootcert=/nonexistent/ca.pem",
            &no_env,
        )
        .unwrap_err();
        assert!(err.contains("cannot read sslrootcert"), "{err}");
        let err = parse("postgres://u:secret@h/db?sslmode=verify-any", &no_env).unwrap_err();
        assert!(err.contains("is not one of disable"), "{err}");
        let err = parse("postgres://u:secret@h/db?bogus=1", &no_env).unwrap_err();
        assert!(!err.contains("secret"), "{err}");
        // require with a root certificate that does not exist only
        // encrypts; with one that exists it verifies the chain, as libpq.
        let t = parse(
            "postgres://h/db?sslmode=require&sslrootcert=/nonexistent/ca.pem",
            &no_env,
        )
        .unwrap();
        assert!(t.tls.is_some());
        let dir = tempfile_dir();
        let not_pem = dir.join("ca.pem");
        std::fs::write(&not_pem, "not a certificate").unwrap();
        let err = parse(
            &format!("host=h sslmode=require sslrootcert='{}'", not_pem.display()),
            &no_env,
        )
        .unwrap_err();
        assert!(err.contains("sslrootcert holds no certificate"), "{err}");
        std::fs::remove_dir_all(dir).ok();
    }

    fn tempfile_dir() -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("pg-conn-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}

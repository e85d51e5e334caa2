//! The provider: configuration schema, credential resolution at configure
//! time, and the shared connection handle every data source and resource uses.

use std::sync::{Arc, RwLock};
use tfplugin::env::Env;

use tfplugin::diag::{Diagnostic, Diagnostics};
use tfplugin::provider::{Ctx, DataSource, Provider, Resource};
use tfplugin::schema::{Attribute, Schema};
use tfplugin::value::{AttrPath, Type, Value};

use crate::conn::{self, Input};
use crate::trail::Db;
use crate::{data_sources, snapshot, validate};

/// State shared between the provider and its data sources and resources.
#[derive(Default)]
pub struct Shared {
    db: RwLock<Option<Arc<Db>>>,
}

impl Shared {
    /// The configured database, or an error saying the provider is not configured.
    pub fn db(&self) -> Result<Arc<Db>, Diagnostics> {
        self.db
            .read()
            .ok()
            .and_then(|g| g.clone())
            .ok_or_else(|| {
                Diagnostic::error(
                    "goldmane provider is not configured",
                    "Terraform called the provider before ConfigureProvider succeeded; check the provider block for errors.",
                )
                .into()
            })
    }
}

/// The `goldmane-edges` provider (local name `goldmane`).
#[derive(Default)]
pub struct GoldmaneProvider {
    shared: Arc<Shared>,
    env: Env,
}

impl GoldmaneProvider {
    /// A provider that sees exactly `env` instead of the process environment.
    /// Tests use it: an in-process provider cannot be handed terraform's env.
    pub fn with_env<I, K, V>(env: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        GoldmaneProvider {
            env: Env::fixed(env),
            ..Self::default()
        }
    }
}

fn opt_string(config: &Value, attr: &str) -> Option<String> {
    config.get(attr).as_str().map(str::to_string)
}

const CONFIG_STRINGS: [&str; 10] = [
    "host",
    "database",
    "username",
    "password",
    "database_url",
    "sslmode",
    "sslrootcert",
    "vault_static_role",
    "vault_mount",
    "statement_timeout",
];

impl Provider for GoldmaneProvider {
    fn type_name(&self) -> &'static str {
        "goldmane"
    }

    fn schema(&self) -> Schema {
        let s = |name: &str, md: &str| {
            Attribute::new(name, Type::String)
                .optional()
                .description(md)
        };
        Schema::new(vec![
            s("host", "PostgreSQL host. Falls back to `database_url`, `DATABASE_URL`, then `PGHOST`."),
            Attribute::new("port", Type::Number)
                .optional()
                .description("PostgreSQL port (default 5432, or `PGPORT`)."),
            s("database", "Database name (default `goldmane_edges`, or `PGDATABASE`)."),
            s("username", "Login role (default `goldmane_edges`, or `PGUSER`). A Vault static role supplies its own username."),
            s("password", "Password. Prefer `PGPASSWORD`, `DATABASE_URL` or the Vault static role: the password rotates weekly. Never stored in state.")
                .sensitive(),
            s("database_url", "A `postgres://user:password@host:port/db?sslmode=…` URL (the same form as the aggregator's `DATABASE_URL`).")
                .sensitive(),
            s("sslmode", "`disable`, `prefer` (default), `require`, `verify-ca` or `verify-full` (libpq meanings). Or `PGSSLMODE`."),
            s("sslrootcert", "Path of the CA certificate (PEM) for `verify-ca`/`verify-full`. Or `PGSSLROOTCERT`."),
            s("vault_static_role", "Vault database static role read when no password is configured and `VAULT_ADDR`/`VAULT_TOKEN` are set (default `pg-goldmane-edges`)."),
            s("vault_mount", "Mount path of Vault's database secrets engine (default `database`)."),
            s("statement_timeout", "Per-query time limit, e.g. `30s` (default), `2m`."),
        ])
        .description("Reads the Calico Goldmane who-talks-to-whom trail (PostgreSQL table `edge`) as data for network policies. Read-only: every query runs in a READ ONLY transaction.")
    }

    fn validate_config(&self, config: &Value) -> Diagnostics {
        let mut diags = Diagnostics::default();
        if let Some(m) = config.get("sslmode").as_str()
            && !["disable", "prefer", "require", "verify-ca", "verify-full"].contains(&m)
        {
            diags.push(
                Diagnostic::error(
                    "Invalid sslmode",
                    format!("sslmode {m:?} is not one of disable, prefer, require, verify-ca, verify-full"),
                )
                .at(AttrPath::root().attr("sslmode")),
            );
        }
        if let Some(t) = config.get("statement_timeout").as_str()
            && let Err(e) = validate::duration(t)
        {
            diags.push(
                Diagnostic::error("Invalid statement_timeout", &e)
                    .at(AttrPath::root().attr("statement_timeout")),
            );
        }
        if let Some(p) = config.get("port").as_i64()
            && !(1..=65535).contains(&p)
        {
            diags.push(
                Diagnostic::error("Invalid port", format!("port {p} is not in 1-65535"))
                    .at(AttrPath::root().attr("port")),
            );
        }
        diags
    }

    fn configure(&self, _ctx: &Ctx, config: &Value) -> Diagnostics {
        for attr in CONFIG_STRINGS.iter().chain(["port"].iter()) {
            if config.get(attr).is_unknown() {
                return Diagnostic::error(
                    "goldmane provider configuration is not known yet",
                    format!("{attr} depends on a value known only after apply; the provider reads the trail at plan time, so its configuration must be known then"),
                )
                .at(AttrPath::root().attr(attr))
                .into();
            }
        }
        let statement_timeout = match config.get("statement_timeout").as_str() {
            Some(t) => match validate::duration(t) {
                Ok(d) => Some(d),
                Err(e) => {
                    return Diagnostic::error("Invalid statement_timeout", &e)
                        .at(AttrPath::root().attr("statement_timeout"))
                        .into();
                }
            },
            None => None,
        };
        let input = Input {
            host: opt_string(config, "host"),
            port: config
                .get("port")
                .as_i64()
                .and_then(|p| u16::try_from(p).ok()),
            database: opt_string(config, "database"),
            username: opt_string(config, "username"),
            password: opt_string(config, "password"),
            database_url: opt_string(config, "database_url"),
            sslmode: opt_string(config, "sslmode"),
            sslrootcert: opt_string(config, "sslrootcert"),
            vault_static_role: opt_string(config, "vault_static_role"),
            vault_mount: opt_string(config, "vault_mount"),
            statement_timeout,
        };
        match conn::resolve(&input, &|k| self.env.get(k)) {
            Ok(settings) => {
                // Where the password came from, never the password itself.
                tfplugin::log::info(&format!(
                    "goldmane provider configured: {} (password from {:?})",
                    settings.target, settings.password_source
                ));
                if let Ok(mut g) = self.shared.db.write() {
                    *g = Some(Arc::new(Db::new(settings)));
                }
                Diagnostics::default()
            }
            Err(e) => Diagnostic::error("Cannot configure the goldmane provider", &e).into(),
        }
    }

    fn resources(&self) -> Vec<Arc<dyn Resource>> {
        vec![Arc::new(snapshot::AllowlistSnapshot::new(
            self.shared.clone(),
        ))]
    }

    fn data_sources(&self) -> Vec<Arc<dyn DataSource>> {
        data_sources::all(&self.shared)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tfplugin::provider::Ctx;

    #[test]
    fn schemas_pass_the_sdk_lint() {
        let lints = tfplugin::grpc::check_schemas(&GoldmaneProvider::default());
        assert!(lints.is_empty(), "{lints:#?}");
    }

    #[test]
    fn names_carry_the_local_name_prefix() {
        let p = GoldmaneProvider::default();
        let names: Vec<&str> = p
            .data_sources()
            .iter()
            .map(|d| d.type_name())
            .chain(p.resources().iter().map(|r| r.type_name()))
            .collect();
        assert_eq!(names.len(), 9);
        assert!(
            names.iter().all(|n| n.starts_with("goldmane_")),
            "{names:?}"
        );
    }

    #[test]
    fn configure_errors_name_the_cause() {
        let p = GoldmaneProvider::with_env([("VAULT_ADDR", "http://127.0.0.1:1")]);
        let config = Value::object([("host", Value::from("db.example"))]);
        let diags = p.configure(&Ctx::for_tests(), &config);
        assert!(diags.has_errors());
        assert!(diags.0[0].detail.contains("VAULT_TOKEN"), "{:?}", diags.0);
        let diags = p.configure(
            &Ctx::for_tests(),
            &Value::object([("host", Value::Unknown)]),
        );
        assert!(
            diags.0[0].summary.contains("not known yet"),
            "{:?}",
            diags.0
        );
        let p = GoldmaneProvider::with_env([] as [(&str, &str); 0]);
        let diags = p.configure(
            &Ctx::for_tests(),
            &Value::object([("sslmode", Value::from("disable"))]),
        );
        assert!(
            diags.0[0].detail.contains("no PostgreSQL host"),
            "{:?}",
            diags.0
        );
        assert!(
            p.shared.db().is_err(),
            "a failed configure leaves no connection"
        );
    }
}

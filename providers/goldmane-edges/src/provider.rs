//! The provider: configuration schema (with the validators the SDK runs on
//! it), credential resolution at configure time, and the registration of
//! every data source and resource with the database cell they read through.

use std::sync::Arc;

use tfplugin::Configured;
use tfplugin::diag::{Diagnostic, Diagnostics};
use tfplugin::env::Env;
use tfplugin::provider::{Ctx, DataSource, Provider, Resource};
use tfplugin::schema::{Attribute, Schema};
use tfplugin::validator::{duration, i64_in, one_of};
use tfplugin::value::{AttrPath, Type, Value};

use crate::db::{Db, DbCell};
use crate::settings::{self, Input};
use crate::{data_sources, resources};

/// The `goldmane-edges` provider (local name `goldmane`).
pub struct GoldmaneProvider {
    db: DbCell,
    env: Env,
}

impl Default for GoldmaneProvider {
    fn default() -> Self {
        GoldmaneProvider {
            db: Arc::new(Configured::new("goldmane")),
            env: Env::default(),
        }
    }
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

/// libpq's sslmode values this provider implements.
const SSLMODES: [&str; 5] = ["disable", "prefer", "require", "verify-ca", "verify-full"];

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
                .validate(i64_in(1..=65535))
                .description("PostgreSQL port (default 5432, or `PGPORT`)."),
            s("database", "Database name (default `goldmane_edges`, or `PGDATABASE`)."),
            s("username", "Login role (default `goldmane_edges`, or `PGUSER`). A Vault static role supplies its own username."),
            s("password", "Password. Prefer `PGPASSWORD`, `DATABASE_URL` or the Vault static role: the password rotates weekly. Never stored in state.")
                .sensitive(),
            s("database_url", "A `postgres://user:password@host:port/db?sslmode=…` URL (the same form as the aggregator's `DATABASE_URL`).")
                .sensitive(),
            s("sslmode", "`disable`, `prefer` (default), `require`, `verify-ca` or `verify-full` (libpq meanings). Or `PGSSLMODE`.")
                .validate(one_of(&SSLMODES)),
            s("sslrootcert", "Path of the CA certificate (PEM) for `verify-ca`/`verify-full`. Or `PGSSLROOTCERT`."),
            s("vault_static_role", "Vault database static role read when no password is configured and `VAULT_ADDR`/`VAULT_TOKEN` are set (default `pg-goldmane-edges`)."),
            s("vault_mount", "Mount path of Vault's database secrets engine (default `database`)."),
            s("statement_timeout", "Per-query time limit, e.g. `30s` (default), `2m`.")
                .validate(duration()),
        ])
        .description("Reads the Calico Goldmane who-talks-to-whom trail (PostgreSQL table `edge`) as data for network policies. Read-only: every query runs in a READ ONLY transaction.")
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
        // The SDK ran the schema's validators on this config just before.
        let statement_timeout = match config.get("statement_timeout").duration() {
            Ok(d) => d,
            Err(e) => {
                return Diagnostic::error("Invalid statement_timeout", &e)
                    .at(AttrPath::root().attr("statement_timeout"))
                    .into();
            }
        };
        let input = Input {
            host: config.get("host").string(),
            port: config
                .get("port")
                .i64_in(1..=65535)
                .ok()
                .flatten()
                .and_then(|p| u16::try_from(p).ok()),
            database: config.get("database").string(),
            username: config.get("username").string(),
            password: config.get("password").string(),
            database_url: config.get("database_url").string(),
            sslmode: config.get("sslmode").string(),
            sslrootcert: config.get("sslrootcert").string(),
            vault_static_role: config.get("vault_static_role").string(),
            vault_mount: config.get("vault_mount").string(),
            statement_timeout,
        };
        match settings::resolve(&input, &|k| self.env.get(k)) {
            Ok(settings) => {
                // Where the password came from, never the password itself.
                tfplugin::log::info(&format!(
                    "goldmane provider configured: {} (password from {:?})",
                    settings.target, settings.password_source
                ));
                self.db.set(Db::new(settings));
                Diagnostics::default()
            }
            Err(e) => Diagnostic::error("Cannot configure the goldmane provider", &e).into(),
        }
    }

    fn resources(&self) -> Vec<Arc<dyn Resource>> {
        resources::all(&self.db)
    }

    fn data_sources(&self) -> Vec<Arc<dyn DataSource>> {
        data_sources::all(&self.db)
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

    /// The provider block's checks, as the SDK runs them (same summaries
    /// and details as the hand-written checks they replaced).
    #[test]
    fn provider_config_validators() {
        let schema = GoldmaneProvider::default().schema();
        let first = |attr: &str, v: Value| {
            let d = tfplugin::validation::validate_config(&schema, &Value::object([(attr, v)]));
            assert_eq!(d.0.len(), 1, "{d}");
            assert_eq!(d.0[0].path, Some(AttrPath::root().attr(attr)));
            (d.0[0].summary.clone(), d.0[0].detail.clone())
        };
        assert_eq!(
            first("sslmode", Value::from("maybe")),
            (
                "Invalid sslmode".into(),
                "sslmode \"maybe\" is not one of disable, prefer, require, verify-ca, verify-full"
                    .into()
            )
        );
        let (summary, detail) = first("statement_timeout", Value::from("1y"));
        assert_eq!(summary, "Invalid statement_timeout");
        assert!(detail.contains("is not a duration"), "{detail}");
        let (summary, detail) = first("port", Value::from(70000));
        assert_eq!(summary, "Invalid port");
        assert!(detail.contains("1-65535"), "{detail}");
        for ok in [
            ("port", Value::from(5432)),
            ("sslmode", Value::from("verify-full")),
        ] {
            let c = Value::object([ok]);
            assert!(tfplugin::validation::validate_config(&schema, &c).is_empty());
        }
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
            p.db.get().is_err(),
            "a failed configure leaves no connection"
        );
    }
}

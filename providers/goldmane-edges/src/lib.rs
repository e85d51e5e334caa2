//! Terraform provider `goldmane-edges`: the Goldmane who-talks-to-whom trail
//! (PostgreSQL table `edge`, see ADR-0014) as read-only HCL data.
//!
//! Layout (imports run one way, top to bottom):
//! - `provider`: configuration schema, configure, registration;
//! - `data_sources` (one file each) and `resources` (one file each): the
//!   Terraform surface;
//! - `db`: the SQL over the trail, behind a `tfplugin::Configured` cell;
//! - `settings`: where connection settings and credentials come from (the
//!   Vault static role is read with `infra_clients::vault`, `sslmode` turned
//!   into TLS by `infra_clients::pg_tls`);
//! - `validate`: the goldmane-specific input rules and validators.

pub mod data_sources;
pub mod db;
pub mod provider;
pub mod resources;
pub mod settings;
pub mod validate;

pub use provider::GoldmaneProvider;

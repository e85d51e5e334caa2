//! Terraform provider `goldmane-edges`: the Goldmane who-talks-to-whom trail
//! (PostgreSQL table `edge`, see ADR-0014) as read-only HCL data.
//!
//! Layers: `validate` (inputs), `conn` + `tls` (where credentials and
//! connection settings come from; the Vault static role is read with
//! `infra_clients::vault`), `trail` (the SQL), and the Terraform surface in
//! `provider`, `data_sources` and `snapshot`.

pub mod conn;
pub mod data_sources;
pub mod provider;
pub mod snapshot;
pub mod tls;
pub mod trail;
pub mod validate;

pub use provider::GoldmaneProvider;

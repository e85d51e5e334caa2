//! Terraform provider `forgejo-retention` (local name `retention`):
//! retention for Forgejo's container registry that can never orphan an OCI
//! image index. Forgejo has no API for its own cleanup rules, so the policy
//! lives in git and the provider computes and executes it.
//!
//! Imports run one way (no circles): `provider` → `resources` /
//! `data_sources` → `deletion` / `permission` / `validate` → `connection`
//! (the configured data) → `registry_graph` → `client` → `manifest` →
//! `names`; `graph` holds the decision as pure functions.

pub mod client;
pub mod connection;
pub mod data_sources;
pub mod deletion;
pub mod graph;
pub mod manifest;
pub mod names;
pub mod permission;
pub mod provider;
pub mod registry_graph;
pub mod resources;
pub mod validate;

pub use provider::RetentionProvider;

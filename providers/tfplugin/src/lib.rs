//! The Terraform plugin protocol v6 SDK shared by our providers.
//!
//! Transport layers (owned by the transport work): `proto`, `server`, `testing`.
//! Semantic layers: `value`, `diag`, `schema`, `provider`, `plan`, `grpc`.

pub mod diag;
pub mod env;
pub mod grpc;
pub mod plan;
pub mod proto;
pub mod provider;
pub mod schema;
pub mod server;
pub mod testing;
pub mod value;

pub use grpc::serve;

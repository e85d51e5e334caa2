//! The Terraform plugin protocol v6 SDK shared by our providers.
//!
//! Transport layers: `proto`, `server`, `log`, and (with the `testing`
//! feature, for tests only) `testing`.
//! Semantic layers: `value`, `diag`, `schema` with its `validator` and
//! `plan_modifier` values (run by `validation` and `plan`), `provider`, `configured`, `plan`, `grpc`.
//! Helpers for provider code: `duration`, `env`.
//!
//! `docs/writing-a-provider.md` walks through a provider written with it.

pub mod configured;
pub mod diag;
pub mod duration;
pub mod env;
pub mod grpc;
pub mod log;
pub mod plan;
pub mod plan_modifier;
pub mod proto;
pub mod provider;
pub mod schema;
pub mod server;
#[cfg(feature = "testing")]
pub mod testing;
pub mod validation;
pub mod validator;
pub mod value;

pub use configured::Configured;
pub use grpc::serve;

//! A cty-like dynamic value, its types, and the schema-driven msgpack and JSON
//! codecs Terraform uses on the wire.
//!
//! Why our own value type: Terraform's values carry "unknown" and "null" at any
//! depth, numbers of arbitrary precision, and sets with value semantics; none
//! of the general-purpose serde data models represent all three faithfully.
//!
//! Modules: [`model`] (the value), [`number`] (canonical decimals), [`types`]
//! (types and inference), [`path`] (attribute paths), [`read`] (typed getters
//! for provider code), and the two codecs [`msgpack`] and [`json`].

pub mod json;
pub mod model;
pub mod msgpack;
pub mod number;
pub mod path;
pub mod read;
pub mod types;

#[cfg(test)]
mod tests;

pub use json::{from_json, to_json};
pub use model::Value;
pub use msgpack::{MAX_MSGPACK_DEPTH, from_msgpack, to_msgpack};
pub use number::Number;
pub use path::{AttrPath, PathStep};
pub use types::{Type, infer_type};

/// A value that does not match its schema type, or malformed bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CodecError(String);

impl CodecError {
    pub(crate) fn new(msg: impl Into<String>) -> CodecError {
        CodecError(msg.into())
    }
}

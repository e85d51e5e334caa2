//! Terraform provider `authentik-forward-auth` (local name `fwdauth`): Authentik
//! forward-auth protection of hosts behind Traefik, on the `tfplugin` SDK.
//!
//! Layout: `provider` (configuration and registration), `client` (the
//! Authentik API), `connection` (the configured connection and its
//! lookups), `resources/` and `data_sources/` (one file each), and what
//! they share: `accounts` (which account a user entry names), `adopt`
//! (creates that survive a lost answer), `outpost` (membership in an
//! outpost's provider list), `guard` (which applications a restriction can
//! guard), `host_rules` (host rules and their expression policy text),
//! `validators` (attribute checks).

pub mod accounts;
pub mod adopt;
pub mod client;
pub mod connection;
pub mod data_sources;
pub mod guard;
pub mod host_rules;
pub mod outpost;
pub mod provider;
pub mod resources;
pub mod validators;

pub use provider::FwdAuthProvider;

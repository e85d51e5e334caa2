//! Terraform provider `authentik-forward-auth` (local name `fwdauth`): Authentik
//! forward-auth protection of hosts behind Traefik, on the `tfplugin` SDK.

pub mod accounts;
pub mod adopt;
pub mod carveout;
pub mod client;
pub mod guard;
pub mod host;
pub mod outpost;
pub mod policy;
pub mod provider;
pub mod restriction;
pub mod timedelta;
pub mod url;

pub use provider::FwdAuthProvider;

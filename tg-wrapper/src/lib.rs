//! `tg`: the Terragrunt/Terraform wrapper every apply goes through.
//!
//! Tier-0 stacks keep SOPS-encrypted state in git ([`tier0`]); Tier-1
//! stacks use the `pg` backend with credentials from Vault ([`tier1`]).
//! The manual is `docs/tg.md`.

pub mod args;
pub mod backend;
pub mod ci;
pub mod classify;
pub mod cli;
pub mod config;
pub mod doctor;
pub mod duration;
pub mod engine;
pub mod error;
pub mod git;
pub mod graph;
pub mod lock;
pub mod pending;
pub mod phase;
pub mod plan_check;
pub mod pooler;
pub mod providers_lock;
pub mod repo;
pub mod run;
pub mod signals;
pub mod stale_git_locks;
pub mod tier0;
pub mod tier1;
pub mod vault;

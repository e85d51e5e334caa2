//! Blocking clients for the services our tools talk to: Vault (or OpenBao),
//! JSON REST APIs, and PostgreSQL's TLS ([`pg_tls`], [`pg_conn`]). One place for the things every client needs and
//! must get right the same way: a token that never reaches an error or a
//! `Debug` print, server text made safe to print ([`error::safe_text`]),
//! custom CAs, and retries of transient failures only ([`retry`]).

pub mod error;
pub mod pg_conn;
pub mod pg_tls;
pub mod rest;
pub mod retry;
pub mod vault;

//! Terraform provider `goldmane-edges`: the Goldmane who-talks-to-whom trail
//! (PostgreSQL table `edge`, see ADR-0014) as read-only HCL data.

pub mod conn;
pub mod tls;
pub mod trail;
pub mod validate;
pub mod vault;

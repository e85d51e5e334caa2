//! One file per resource type, named for it (`fwdauth_<name>`).

pub mod domain_restriction;
pub mod protected_host;

//! One file per data source type, named for it (`fwdauth_<name>`).

pub mod carveout_check;

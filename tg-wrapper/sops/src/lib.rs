//! The SOPS v3 file format.

//! Provider forgejo-retention.

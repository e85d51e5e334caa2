//! The managed resources, one file each.

pub mod allowlist_snapshot;

use std::sync::Arc;

use tfplugin::provider::Resource;

use crate::db::DbCell;

/// Every resource of the provider, reading through `db`.
pub fn all(db: &DbCell) -> Vec<Arc<dyn Resource>> {
    vec![Arc::new(allowlist_snapshot::AllowlistSnapshot::new(
        db.clone(),
    ))]
}

//! The provider's resource: `retention_policy`.

pub mod policy;

use std::sync::Arc;

use tfplugin::provider::Resource;

use crate::connection::ConnCell;

/// Every resource of the provider, sharing the configured connection.
pub fn all(conn: &ConnCell) -> Vec<Arc<dyn Resource>> {
    vec![Arc::new(policy::RetentionPolicy(conn.clone()))]
}

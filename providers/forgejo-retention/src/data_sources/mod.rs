//! The provider's data sources: `retention_image_graph` and
//! `retention_integrity`, both reading the walk's registry snapshot.

pub mod image_graph;
pub mod integrity;

use std::sync::Arc;

use tfplugin::diag::Diagnostics;
use tfplugin::provider::DataSource;
use tfplugin::schema::Attribute;
use tfplugin::value::{Type, Value};

use crate::connection::ConnCell;
use crate::graph::Package;
use crate::validate::forgejo_name;

/// Every data source of the provider, sharing the configured connection.
pub fn all(conn: &ConnCell) -> Vec<Arc<dyn DataSource>> {
    vec![
        Arc::new(image_graph::ImageGraph(conn.clone())),
        Arc::new(integrity::Integrity(conn.clone())),
    ]
}

/// The packages a data source's `owner` / `package` select, from the walk's
/// snapshot.
fn packages(conn: &ConnCell, config: &Value) -> Result<Arc<Vec<Package>>, Diagnostics> {
    let c = conn.get()?;
    let owner = config.get("owner").string().unwrap_or_default();
    c.snapshot(&owner, config.get("package").as_str())
        .map_err(|e| Diagnostics::error("Reading the registry failed", e))
}

/// The `owner` and `package` attributes that select what a data source
/// reads; `package` is made required or optional by the caller.
fn selector(package: impl FnOnce(Attribute) -> Attribute) -> [Attribute; 2] {
    [
        Attribute::new("owner", Type::String)
            .required()
            .validate(forgejo_name()),
        package(Attribute::new("package", Type::String).validate(forgejo_name())),
    ]
}

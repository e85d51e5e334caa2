//! `retention_integrity`: tagged indexes whose children are missing.

use tfplugin::diag::Diagnostics;
use tfplugin::provider::{Ctx, DataSource};
use tfplugin::schema::{Attribute, Schema};
use tfplugin::value::{Type, Value};

use crate::connection::ConnCell;

pub struct Integrity(pub ConnCell);

impl DataSource for Integrity {
    fn type_name(&self) -> &'static str {
        "retention_integrity"
    }

    fn schema(&self) -> Schema {
        let [owner, package] = super::selector(|p| {
            p.optional()
                .description("One package (exact name); all when unset.")
        });
        Schema::new(vec![
            owner,
            package,
            Attribute::new("broken", Type::list(Type::String))
                .computed()
                .description(
                    "`package@index → missing child` for every tagged index missing a child.",
                ),
            Attribute::new("ok", Type::Bool)
                .computed()
                .description("True when nothing is broken (for a `check` block)."),
        ])
        .description("Registry integrity: tagged indexes whose children are missing.")
    }

    fn read(&self, _ctx: &Ctx, config: &Value) -> Result<Value, Diagnostics> {
        let pkgs = super::packages(&self.0, config)?;
        let mut broken = Vec::new();
        for p in pkgs.iter() {
            let present = p.listed();
            for (d, kids) in &p.children {
                for k in kids.iter().filter(|k| !present.contains(k)) {
                    broken.push(format!("{}@{d} → missing {k}", p.name));
                }
            }
        }
        broken.sort();
        Ok(config
            .clone()
            .with_attr("ok", Value::from(broken.is_empty()))
            .with_attr("broken", Value::string_list(broken)))
    }
}

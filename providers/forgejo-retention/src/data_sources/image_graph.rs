//! `retention_image_graph`: the tag → index → child-manifest graph of one
//! package.

use tfplugin::diag::Diagnostics;
use tfplugin::provider::{Ctx, DataSource};
use tfplugin::schema::{Attribute, Schema};
use tfplugin::value::{Type, Value};

use crate::connection::ConnCell;
use crate::graph::{self, Package};

pub struct ImageGraph(pub ConnCell);

impl DataSource for ImageGraph {
    fn type_name(&self) -> &'static str {
        "retention_image_graph"
    }

    fn schema(&self) -> Schema {
        let [owner, package] =
            super::selector(|p| p.required().description("Container package (exact name)."));
        Schema::new(vec![
            owner,
            package,
            Attribute::new(
                "tags",
                Type::list(Type::object([
                    ("tag", Type::String),
                    ("digest", Type::String),
                    ("children", Type::list(Type::String)),
                ])),
            )
            .computed()
            .description("Each tag, its digest and the manifests it references (transitively)."),
            Attribute::new("untagged", Type::list(Type::String))
                .computed()
                .description("Untagged versions (`sha256:…`)."),
        ])
        .description("The tag → index → child-manifest graph of one package.")
    }

    fn read(&self, _ctx: &Ctx, config: &Value) -> Result<Value, Diagnostics> {
        let pkgs = super::packages(&self.0, config)?;
        let none = Package::default();
        let p = pkgs.first().unwrap_or(&none);
        let tags = p
            .tags
            .iter()
            .map(|(t, (d, _))| {
                let mut kids: Vec<String> = graph::closure(p, [d.clone()])
                    .into_iter()
                    .filter(|x| x != d)
                    .collect();
                kids.sort();
                Value::object([
                    ("tag", Value::from(t.as_str())),
                    ("digest", Value::from(d.as_str())),
                    ("children", Value::string_list(kids)),
                ])
            })
            .collect();
        Ok(config
            .clone()
            .with_attr("tags", Value::List(tags))
            .with_attr("untagged", Value::string_list(p.untagged.keys().cloned())))
    }
}

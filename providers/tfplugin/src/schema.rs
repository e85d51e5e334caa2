//! Schemas: what a provider, resource or data source accepts and returns,
//! plus the validators and plan modifiers attached to each attribute.

use std::sync::Arc;

use crate::plan_modifier::{self, Modes, PlanModifier};
use crate::proto::tfplugin6 as pb;
use crate::validator::Validator;
use crate::value::{Type, Value};

/// How nested attributes or blocks repeat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nesting {
    Single,
    List,
    Set,
    Map,
}

/// The type of an attribute: a plain type or nested attributes.
#[derive(Debug, Clone, PartialEq)]
pub enum AttrType {
    Plain(Type),
    Nested(Nesting, Vec<Attribute>),
}

#[derive(Debug, Clone)]
pub struct Attribute {
    pub name: String,
    pub ty: AttrType,
    pub required: bool,
    pub optional: bool,
    pub computed: bool,
    pub sensitive: bool,
    pub deprecated: Option<String>,
    pub description: String,
    /// Run by the SDK on configuration (see [`crate::validator`]).
    pub validators: Vec<Arc<dyn Validator>>,
    /// Run by the SDK planner, in order (see [`crate::plan_modifier`]).
    pub plan_modifiers: Vec<Arc<dyn PlanModifier>>,
}

/// Validators and modifiers compare by what they do (their descriptions).
impl PartialEq for Attribute {
    fn eq(&self, o: &Self) -> bool {
        let v = |a: &Attribute| {
            a.validators
                .iter()
                .map(|v| v.description())
                .collect::<Vec<_>>()
        };
        let m = |a: &Attribute| {
            a.plan_modifiers
                .iter()
                .map(|m| m.description())
                .collect::<Vec<_>>()
        };
        self.name == o.name
            && self.ty == o.ty
            && (self.required, self.optional, self.computed, self.sensitive)
                == (o.required, o.optional, o.computed, o.sensitive)
            && self.deprecated == o.deprecated
            && self.description == o.description
            && v(self) == v(o)
            && m(self) == m(o)
    }
}

impl Attribute {
    pub fn new(name: &str, ty: Type) -> Self {
        Attribute {
            name: name.to_string(),
            ty: AttrType::Plain(ty),
            required: false,
            optional: false,
            computed: false,
            sensitive: false,
            deprecated: None,
            description: String::new(),
            validators: Vec::new(),
            plan_modifiers: Vec::new(),
        }
    }

    /// Nested attributes (protocol v6 NestedType), e.g. a list of objects.
    pub fn nested(name: &str, nesting: Nesting, attrs: Vec<Attribute>) -> Self {
        Attribute {
            ty: AttrType::Nested(nesting, attrs),
            ..Attribute::new(name, Type::Dynamic)
        }
    }
    pub fn required(mut self) -> Self {
        self.required = true;
        self
    }
    pub fn optional(mut self) -> Self {
        self.optional = true;
        self
    }
    pub fn computed(mut self) -> Self {
        self.computed = true;
        self
    }
    pub fn sensitive(mut self) -> Self {
        self.sensitive = true;
        self
    }
    pub fn deprecated(mut self, msg: &str) -> Self {
        self.deprecated = Some(msg.to_string());
        self
    }
    pub fn description(mut self, md: &str) -> Self {
        self.description = md.to_string();
        self
    }
    /// Adds a validator (see [`crate::validator`] for the stock ones).
    pub fn validate(mut self, v: impl Validator + 'static) -> Self {
        self.validators.push(Arc::new(v));
        self
    }
    /// Adds a plan modifier (see [`crate::plan_modifier`]).
    pub fn plan_modifier(mut self, m: impl PlanModifier + 'static) -> Self {
        self.plan_modifiers.push(Arc::new(m));
        self
    }
    /// A change of this attribute replaces the resource
    /// ([`plan_modifier::requires_replace`]; works at any nesting depth).
    pub fn requires_replace(self) -> Self {
        self.plan_modifier(plan_modifier::requires_replace())
    }
    /// On update, a computed attribute keeps its prior value instead of
    /// becoming unknown (for ids and other values that never change).
    pub fn use_state_for_unknown(self) -> Self {
        self.plan_modifier(plan_modifier::use_state_for_unknown())
    }
    /// The value an optional+computed attribute takes when not configured.
    pub fn default(self, v: Value) -> Self {
        self.plan_modifier(plan_modifier::default(v))
    }

    /// The value type of this attribute.
    pub fn value_type(&self) -> Type {
        match &self.ty {
            AttrType::Plain(t) => t.clone(),
            AttrType::Nested(nesting, attrs) => wrap(*nesting, object_type(attrs, &[])),
        }
    }

    fn to_proto(&self) -> pb::schema::Attribute {
        let (ty, nested_type) = match &self.ty {
            AttrType::Plain(t) => (serde_json::to_vec(&t.to_json()).unwrap_or_default(), None),
            AttrType::Nested(nesting, attrs) => {
                use pb::schema::object::NestingMode as M;
                let mode = match nesting {
                    Nesting::Single => M::Single,
                    Nesting::List => M::List,
                    Nesting::Set => M::Set,
                    Nesting::Map => M::Map,
                };
                let obj = pb::schema::Object {
                    attributes: attrs.iter().map(Attribute::to_proto).collect(),
                    nesting: mode as i32,
                    ..Default::default()
                };
                (Vec::new(), Some(obj))
            }
        };
        pb::schema::Attribute {
            name: self.name.clone(),
            r#type: ty,
            nested_type,
            description: self.description.clone(),
            required: self.required,
            optional: self.optional,
            computed: self.computed,
            sensitive: self.sensitive,
            description_kind: pb::StringKind::Markdown as i32,
            deprecated: self.deprecated.is_some(),
            write_only: false,
        }
    }
}

fn wrap(nesting: Nesting, t: Type) -> Type {
    match nesting {
        Nesting::Single => t,
        Nesting::List => Type::list(t),
        Nesting::Set => Type::set(t),
        Nesting::Map => Type::map(t),
    }
}

fn object_type(attrs: &[Attribute], blocks: &[NestedBlock]) -> Type {
    let mut m: std::collections::BTreeMap<String, Type> = attrs
        .iter()
        .map(|a| (a.name.clone(), a.value_type()))
        .collect();
    for b in blocks {
        m.insert(b.name.clone(), wrap(b.nesting, b.block.value_type()));
    }
    Type::Object(m)
}

/// A nested block (`timeouts { ... }` style).
#[derive(Debug, Clone, PartialEq)]
pub struct NestedBlock {
    pub name: String,
    pub nesting: Nesting,
    pub block: Block,
    pub min_items: i64,
    pub max_items: i64,
}

impl NestedBlock {
    pub fn new(name: &str, nesting: Nesting, attrs: Vec<Attribute>) -> Self {
        NestedBlock {
            name: name.to_string(),
            nesting,
            block: Block {
                attributes: attrs,
                ..Block::default()
            },
            min_items: 0,
            max_items: 0,
        }
    }
    pub fn max_items(mut self, n: i64) -> Self {
        self.max_items = n;
        self
    }
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Block {
    pub attributes: Vec<Attribute>,
    pub blocks: Vec<NestedBlock>,
    pub description: String,
    pub deprecated: bool,
}

impl Block {
    pub fn value_type(&self) -> Type {
        object_type(&self.attributes, &self.blocks)
    }

    fn to_proto(&self, version: i64) -> pb::schema::Block {
        use pb::schema::nested_block::NestingMode as M;
        pb::schema::Block {
            version,
            attributes: self.attributes.iter().map(Attribute::to_proto).collect(),
            block_types: self
                .blocks
                .iter()
                .map(|b| pb::schema::NestedBlock {
                    type_name: b.name.clone(),
                    block: Some(b.block.to_proto(0)),
                    nesting: match b.nesting {
                        Nesting::Single => M::Single,
                        Nesting::List => M::List,
                        Nesting::Set => M::Set,
                        Nesting::Map => M::Map,
                    } as i32,
                    min_items: b.min_items,
                    max_items: b.max_items,
                })
                .collect(),
            description: self.description.clone(),
            description_kind: pb::StringKind::Markdown as i32,
            deprecated: self.deprecated,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Schema {
    pub version: i64,
    pub block: Block,
}

impl Schema {
    pub fn new(attrs: Vec<Attribute>) -> Self {
        Schema {
            version: 0,
            block: Block {
                attributes: attrs,
                ..Block::default()
            },
        }
    }
    pub fn version(mut self, v: i64) -> Self {
        self.version = v;
        self
    }
    pub fn description(mut self, md: &str) -> Self {
        self.block.description = md.to_string();
        self
    }
    pub fn block(mut self, b: NestedBlock) -> Self {
        self.block.blocks.push(b);
        self
    }

    /// The object type of values of this schema.
    pub fn value_type(&self) -> Type {
        self.block.value_type()
    }

    pub fn attribute(&self, name: &str) -> Option<&Attribute> {
        self.block.attributes.iter().find(|a| a.name == name)
    }

    pub(crate) fn to_proto(&self) -> pb::Schema {
        pb::Schema {
            version: self.version,
            block: Some(self.block.to_proto(self.version)),
        }
    }

    /// Schema mistakes a provider author can make; checked once at startup
    /// (and in every provider's unit tests through `grpc::check_schemas`).
    pub fn lint(&self, owner: &str) -> Vec<String> {
        let mut out = Vec::new();
        lint_attrs(&self.block.attributes, owner, &mut out);
        out
    }
}

fn lint_attrs(attrs: &[Attribute], owner: &str, out: &mut Vec<String>) {
    for a in attrs {
        let at = format!("{owner}.{}", a.name);
        let modes = [a.required, a.optional, a.computed];
        if !modes.iter().any(|m| *m) {
            out.push(format!("{at}: must be required, optional or computed"));
        }
        if a.required && (a.optional || a.computed) {
            out.push(format!("{at}: required excludes optional and computed"));
        }
        for m in &a.plan_modifiers {
            let modes = Modes {
                optional: a.optional,
                computed: a.computed,
            };
            if let Some(problem) = m.check_schema(modes) {
                out.push(format!("{at}: {problem}"));
            }
        }
        if let AttrType::Nested(_, inner) = &a.ty {
            lint_attrs(inner, &at, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lint_catches_author_mistakes() {
        let s = Schema::new(vec![
            Attribute::new("a", Type::String),
            Attribute::new("b", Type::String).required().computed(),
            Attribute::new("c", Type::Bool)
                .optional()
                .default(Value::from(true)),
            Attribute::new("d", Type::String)
                .optional()
                .computed()
                .default(Value::from("x")),
        ]);
        let lints = s.lint("r");
        assert_eq!(lints.len(), 3, "{lints:?}");
    }

    #[test]
    fn nested_attribute_type() {
        let a = Attribute::nested(
            "rules",
            Nesting::List,
            vec![Attribute::new("port", Type::Number).required()],
        );
        assert_eq!(
            a.value_type(),
            Type::list(Type::object([("port", Type::Number)]))
        );
    }
}

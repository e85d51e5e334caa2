//! Attribute plan modifiers: small values attached to a schema attribute
//! ([`Attribute::plan_modifier`](crate::schema::Attribute::plan_modifier))
//! that adjust the planned value of that attribute, at any nesting depth.
//!
//! The SDK planner first plans each attribute the way Terraform expects
//! (configured values as configured; unconfigured computed values unknown on
//! change, kept when nothing changed), then runs the attribute's modifiers in
//! the order they were attached, then the resource's own
//! [`Resource::modify_plan`](crate::provider::Resource::modify_plan).

use std::fmt;

use crate::value::{AttrPath, Value};

/// What a modifier sees of one attribute, and may change.
#[derive(Debug)]
pub struct AttrPlan<'a> {
    /// Where the attribute is (`rules[0].port`).
    pub path: &'a AttrPath,
    /// Its configured value (null when not configured).
    pub config: &'a Value,
    /// Its prior value; None when the resource is being created. Inside
    /// the elements of a nested list, set or map, the value Terraform carried
    /// over from the matching prior element (None for a new element).
    pub prior: Option<&'a Value>,
    /// The value planned so far; a modifier may replace it.
    pub planned: Value,
    /// Set to true to make a change of this attribute replace the resource.
    /// Checked after every modifier ran, so [`requires_replace`] works in any
    /// position.
    pub replace_if_changed: bool,
}

/// Adjusts the planned value of one attribute.
pub trait PlanModifier: Send + Sync + fmt::Debug {
    /// What it does, in words (for documentation and debugging).
    fn description(&self) -> String;
    fn modify(&self, plan: &mut AttrPlan<'_>);
    /// A schema mistake in attaching this modifier to an attribute with
    /// these `modes`, if any (checked at startup with the rest of the
    /// schema lint).
    fn check_schema(&self, _modes: Modes) -> Option<String> {
        None
    }
}

/// How an attribute is set, as far as a modifier's schema check needs to
/// know (the schema's `Attribute` holds the modifiers, so this module does
/// not see it).
#[derive(Debug, Clone, Copy)]
pub struct Modes {
    pub optional: bool,
    pub computed: bool,
}

/// A change of the attribute replaces the resource. Inside nested
/// attributes: a change of it in any element, or a new element that sets it.
/// A set element has no identity but its value, so any change to an element
/// of a nested set makes it a new element (as in terraform-plugin-framework);
/// the replacement is then reported at the set.
pub fn requires_replace() -> RequiresReplace {
    RequiresReplace
}

/// See [`requires_replace`].
#[derive(Debug, Clone, Copy)]
pub struct RequiresReplace;

impl PlanModifier for RequiresReplace {
    fn description(&self) -> String {
        "a change replaces the resource".into()
    }
    fn modify(&self, plan: &mut AttrPlan<'_>) {
        plan.replace_if_changed = true;
    }
}

/// On update, an unconfigured computed attribute keeps its prior value
/// instead of becoming unknown (for ids and other values that never change).
pub fn use_state_for_unknown() -> UseStateForUnknown {
    UseStateForUnknown
}

/// See [`use_state_for_unknown`].
#[derive(Debug, Clone, Copy)]
pub struct UseStateForUnknown;

impl PlanModifier for UseStateForUnknown {
    fn description(&self) -> String {
        "keeps the prior value while planning".into()
    }
    fn modify(&self, plan: &mut AttrPlan<'_>) {
        if let Some(prior) = plan.prior
            && plan.config.is_null()
            && plan.planned.is_unknown()
        {
            plan.planned = prior.clone();
        }
    }
    fn check_schema(&self, modes: Modes) -> Option<String> {
        (!modes.computed).then(|| "use_state_for_unknown needs computed".into())
    }
}

/// The value an optional + computed attribute takes when not configured.
pub fn default(v: Value) -> Default {
    Default(v)
}

/// See [`default`].
#[derive(Debug, Clone)]
pub struct Default(pub Value);

impl PlanModifier for Default {
    fn description(&self) -> String {
        format!("defaults to {:?}", self.0)
    }
    fn modify(&self, plan: &mut AttrPlan<'_>) {
        if plan.config.is_null() {
            plan.planned = self.0.clone();
        }
    }
    fn check_schema(&self, modes: Modes) -> Option<String> {
        (!(modes.optional && modes.computed)).then(|| "a default needs optional + computed".into())
    }
}

//! The traits a provider implements, and the per-call context.
//!
//! All methods are synchronous: the SDK runs them on blocking threads, so
//! providers can use blocking clients (`postgres`, `reqwest::blocking`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::diag::Diagnostics;
use crate::schema::Schema;
use crate::value::{AttrPath, Value};

/// Per-call context: cancellation (StopProvider) and private state.
#[derive(Debug, Default)]
pub struct Ctx {
    stopped: Arc<AtomicBool>,
    deadline: Option<Instant>,
    private_in: Vec<u8>,
    private_out: Mutex<Option<Vec<u8>>>,
}

impl Ctx {
    pub(crate) fn new(stopped: Arc<AtomicBool>, private_in: Vec<u8>) -> Ctx {
        Ctx {
            stopped,
            deadline: None,
            private_in,
            private_out: Mutex::new(None),
        }
    }

    /// A context for unit tests of provider code (never stopped).
    pub fn for_tests() -> Ctx {
        Ctx::default()
    }

    /// Gives up at `deadline` (is_stopped turns true then).
    pub fn with_deadline(mut self, deadline: Instant) -> Ctx {
        self.deadline = Some(deadline);
        self
    }

    /// True once Terraform asked the provider to stop (Ctrl-C) or the
    /// deadline passed: long operations should check it and return.
    pub fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::SeqCst) || self.deadline.is_some_and(|d| Instant::now() >= d)
    }

    /// An error diagnostic when stopped, for `?` in loops.
    pub fn check_stopped(&self) -> Result<(), Diagnostics> {
        if self.is_stopped() {
            return Err(Diagnostics::error(
                "Operation cancelled",
                "Terraform asked the provider to stop (interrupt) or the operation timed out; nothing further was changed.",
            ));
        }
        Ok(())
    }

    /// The resource's private state as stored by the last create/update/read.
    pub fn private(&self) -> &[u8] {
        &self.private_in
    }

    /// Private state to store with the resource (opaque to Terraform).
    pub fn set_private(&self, bytes: Vec<u8>) {
        if let Ok(mut p) = self.private_out.lock() {
            *p = Some(bytes);
        }
    }

    /// What the call leaves as private state: the new one or the old one.
    pub(crate) fn take_private(&self) -> Vec<u8> {
        self.private_out
            .lock()
            .ok()
            .and_then(|mut p| p.take())
            .unwrap_or_else(|| self.private_in.clone())
    }
}

pub trait Provider: Send + Sync + 'static {
    /// Local name = resource prefix, e.g. "goldmane".
    fn type_name(&self) -> &'static str;
    /// Provider configuration schema.
    fn schema(&self) -> Schema;
    /// Pure, like [`Resource::validate`]: runs in place, must not block.
    fn validate_config(&self, _config: &Value) -> Diagnostics {
        Diagnostics::default()
    }
    /// May be called more than once per process.
    fn configure(&self, ctx: &Ctx, config: &Value) -> Diagnostics;
    fn resources(&self) -> Vec<Arc<dyn Resource>>;
    fn data_sources(&self) -> Vec<Arc<dyn DataSource>>;
}

/// The stored state of a resource of another type (or another provider)
/// that a `moved` block hands to one of ours (MoveResourceState, Terraform
/// 1.8+).
#[derive(Debug, Clone, Copy)]
pub struct MoveSource<'a> {
    /// The source's provider address as Terraform writes it, e.g.
    /// `registry.terraform.io/goauthentik/authentik`.
    pub provider: &'a str,
    pub type_name: &'a str,
    /// The schema version the source state was written with.
    pub schema_version: i64,
    /// The source state's attributes, as stored (JSON).
    pub state: &'a serde_json::Value,
    /// The source's private state (opaque, written by its own provider).
    pub private: &'a [u8],
}

/// The plan for one resource, after the SDK planner ran.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanChange {
    /// None = create.
    pub prior: Option<Value>,
    pub config: Value,
    /// Defaults applied, computed attributes unknown where they may change.
    pub planned: Value,
    pub requires_replace: Vec<AttrPath>,
}

pub trait Resource: Send + Sync + 'static {
    fn type_name(&self) -> &'static str;
    fn schema(&self) -> Schema;
    /// The config may contain unknowns. Terraform validates before it
    /// configures the provider, so this is pure: it runs on the gRPC
    /// runtime thread and must not block.
    fn validate(&self, _config: &Value) -> Diagnostics {
        Diagnostics::default()
    }
    fn modify_plan(&self, _ctx: &Ctx, _plan: &mut PlanChange) -> Diagnostics {
        Diagnostics::default()
    }
    fn create(&self, ctx: &Ctx, planned: &Value, config: &Value) -> Result<Value, Diagnostics>;
    /// Ok(None) = the object is gone (Terraform drops it from state).
    fn read(&self, ctx: &Ctx, state: &Value) -> Result<Option<Value>, Diagnostics>;
    fn update(
        &self,
        ctx: &Ctx,
        prior: &Value,
        planned: &Value,
        config: &Value,
    ) -> Result<Value, Diagnostics>;
    fn delete(&self, ctx: &Ctx, prior: &Value) -> Result<(), Diagnostics>;
    /// Returns a partial state from an import ID; Terraform then calls read().
    fn import(&self, _ctx: &Ctx, _id: &str) -> Result<Value, Diagnostics> {
        Err(Diagnostics::error(
            "Import not supported",
            format!("{} cannot be imported.", self.type_name()),
        ))
    }
    /// Turns another resource type's state into this type's, for a `moved`
    /// block across types. Terraform calls this on a provider instance it
    /// has NOT configured (its refactoring step starts a fresh one), so it
    /// must not call any API: translate what the source state holds (at
    /// least what `read` needs to find the object) and let the refresh that
    /// follows read the rest. The target starts with no private state
    /// (`ctx.set_private` sets one). The default refuses every source.
    fn move_state(&self, _ctx: &Ctx, source: &MoveSource<'_>) -> Result<Value, Diagnostics> {
        Err(Diagnostics::error(
            "Move not supported",
            format!(
                "{} cannot take over the state of {} ({}); remove the `moved` block and import the object instead.",
                self.type_name(),
                source.type_name,
                source.provider
            ),
        ))
    }
    /// Upgrades state written by an older schema version (raw JSON as stored).
    fn upgrade_state(
        &self,
        _ctx: &Ctx,
        from_version: i64,
        _raw_json: &serde_json::Value,
    ) -> Result<Value, Diagnostics> {
        Err(Diagnostics::error(
            "State upgrade not supported",
            format!(
                "{} has no upgrade from schema version {from_version} to {}.",
                self.type_name(),
                self.schema().version
            ),
        ))
    }
}

pub trait DataSource: Send + Sync + 'static {
    fn type_name(&self) -> &'static str;
    fn schema(&self) -> Schema;
    /// Pure, like [`Resource::validate`]: runs in place, must not block.
    fn validate(&self, _config: &Value) -> Diagnostics {
        Diagnostics::default()
    }
    /// Returns the full object including computed attributes.
    fn read(&self, ctx: &Ctx, config: &Value) -> Result<Value, Diagnostics>;
}

//! A minimal provider for benchmarks (`bench/handshake.sh`,
//! `bench/plan1000.sh`): resource `bench_item` with a computed id, like the
//! built-in `terraform_data` it is compared against.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tfplugin::diag::Diagnostics;
use tfplugin::provider::{Ctx, DataSource, Provider, Resource};
use tfplugin::schema::{Attribute, Schema};
use tfplugin::value::{Type, Value};

struct Bench;
struct Item(AtomicU64);

impl Provider for Bench {
    fn type_name(&self) -> &'static str {
        "bench"
    }
    fn schema(&self) -> Schema {
        Schema::new(Vec::new())
    }
    fn configure(&self, _ctx: &Ctx, _config: &Value) -> Diagnostics {
        Diagnostics::default()
    }
    fn resources(&self) -> Vec<Arc<dyn Resource>> {
        vec![Arc::new(Item(AtomicU64::new(0)))]
    }
    fn data_sources(&self) -> Vec<Arc<dyn DataSource>> {
        Vec::new()
    }
}

impl Resource for Item {
    fn type_name(&self) -> &'static str {
        "bench_item"
    }
    fn schema(&self) -> Schema {
        Schema::new(vec![
            Attribute::new("id", Type::String)
                .computed()
                .use_state_for_unknown(),
            Attribute::new("input", Type::String).optional(),
        ])
    }
    fn create(&self, _ctx: &Ctx, planned: &Value, _config: &Value) -> Result<Value, Diagnostics> {
        let n = self.0.fetch_add(1, Ordering::Relaxed);
        Ok(planned
            .clone()
            .with_attr("id", Value::from(format!("{}-{n}", std::process::id()))))
    }
    fn read(&self, _ctx: &Ctx, state: &Value) -> Result<Option<Value>, Diagnostics> {
        Ok(Some(state.clone()))
    }
    fn update(
        &self,
        _ctx: &Ctx,
        _prior: &Value,
        planned: &Value,
        _config: &Value,
    ) -> Result<Value, Diagnostics> {
        Ok(planned.clone())
    }
    fn delete(&self, _ctx: &Ctx, _prior: &Value) -> Result<(), Diagnostics> {
        Ok(())
    }
}

fn main() -> std::process::ExitCode {
    tfplugin::serve(Bench)
}

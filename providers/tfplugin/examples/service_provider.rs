//! The provider from docs/writing-a-provider.md: one resource, `demo_service`,
//! with attribute validators and plan modifiers, backed by an in-memory
//! "API". `tests/writing_a_provider.rs` runs it through real terraform.
//!
//! Run it as a provider binary: `cargo run --example service_provider`
//! (Terraform starts it through a dev override or `TF_REATTACH_PROVIDERS`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tfplugin::Configured;
use tfplugin::diag::{Diagnostic, Diagnostics};
use tfplugin::provider::{Ctx, DataSource, Provider, Resource};
use tfplugin::schema::{Attribute, Nesting, Schema};
use tfplugin::validator::{duration, each, host_name, i64_in, non_empty, one_of};
use tfplugin::value::{Type, Value};

/// The remote system the provider manages (here in memory, so the example
/// runs anywhere): services by id.
#[derive(Debug, Default)]
pub struct Remote {
    pub services: Mutex<HashMap<String, Value>>,
    next_id: AtomicU64,
}

/// What `configure` builds and every resource uses: a client of the remote
/// system (a real provider would hold an HTTP client and credentials).
#[derive(Debug)]
pub struct Api {
    region: String,
    remote: Arc<Remote>,
}

/// The provider: its configuration schema and the cell its resources read.
pub struct DemoProvider {
    api: Arc<Configured<Api>>,
    pub remote: Arc<Remote>,
}

impl Default for DemoProvider {
    fn default() -> Self {
        DemoProvider {
            api: Arc::new(Configured::new("demo")),
            remote: Arc::default(),
        }
    }
}

impl Provider for DemoProvider {
    fn type_name(&self) -> &'static str {
        "demo"
    }

    fn schema(&self) -> Schema {
        Schema::new(vec![
            Attribute::new("region", Type::String)
                .required()
                .validate(one_of(&["eu", "us"]))
                .description("Where the services run."),
        ])
    }

    fn configure(&self, _ctx: &Ctx, config: &Value) -> Diagnostics {
        // Validators already ran: `region` is one of the allowed values.
        self.api.set(Api {
            region: config.get("region").string().unwrap_or_default(),
            remote: self.remote.clone(),
        });
        Diagnostics::default()
    }

    fn resources(&self) -> Vec<Arc<dyn Resource>> {
        vec![Arc::new(Service {
            api: self.api.clone(),
        })]
    }

    fn data_sources(&self) -> Vec<Arc<dyn DataSource>> {
        Vec::new()
    }
}

/// `demo_service`: a named service listening on some ports.
pub struct Service {
    api: Arc<Configured<Api>>,
}

impl Resource for Service {
    fn type_name(&self) -> &'static str {
        "demo_service"
    }

    fn schema(&self) -> Schema {
        Schema::new(vec![
            // Assigned by the API once; never unknown again on updates.
            Attribute::new("id", Type::String)
                .computed()
                .use_state_for_unknown(),
            // A new host name is a new service.
            Attribute::new("host", Type::String)
                .required()
                .validate(host_name())
                .requires_replace(),
            Attribute::new("protocol", Type::String)
                .optional()
                .computed()
                .default(Value::from("tcp"))
                .validate(one_of(&["tcp", "udp"])),
            Attribute::new("timeout", Type::String)
                .optional()
                .validate(duration()),
            Attribute::new("tags", Type::set(Type::String))
                .optional()
                .validate(each(non_empty())),
            // Validators and modifiers work inside nested attributes too:
            // changing a port replaces the service, a label is updated in place.
            Attribute::nested(
                "ports",
                Nesting::List,
                vec![
                    Attribute::new("number", Type::Number)
                        .required()
                        .validate(i64_in(1..=65535))
                        .requires_replace(),
                    Attribute::new("label", Type::String).optional(),
                ],
            )
            .optional(),
        ])
    }

    fn create(&self, _ctx: &Ctx, planned: &Value, _config: &Value) -> Result<Value, Diagnostics> {
        let api = self.api.get()?;
        let n = api.remote.next_id.fetch_add(1, Ordering::SeqCst);
        let id = format!("{}-{n}", api.region);
        let state = planned.clone().with_attr("id", Value::from(id.as_str()));
        api.remote
            .services
            .lock()
            .unwrap()
            .insert(id, state.clone());
        Ok(state)
    }

    fn read(&self, _ctx: &Ctx, state: &Value) -> Result<Option<Value>, Diagnostics> {
        let api = self.api.get()?;
        let id = state.get("id").string().unwrap_or_default();
        Ok(api.remote.services.lock().unwrap().get(&id).cloned())
    }

    fn update(
        &self,
        _ctx: &Ctx,
        _prior: &Value,
        planned: &Value,
        _config: &Value,
    ) -> Result<Value, Diagnostics> {
        let api = self.api.get()?;
        let id = planned.get("id").string().unwrap_or_default();
        match api.remote.services.lock().unwrap().get_mut(&id) {
            Some(s) => *s = planned.clone(),
            None => return Err(Diagnostic::error("Service gone", id).into()),
        }
        Ok(planned.clone())
    }

    fn delete(&self, _ctx: &Ctx, prior: &Value) -> Result<(), Diagnostics> {
        let api = self.api.get()?;
        let id = prior.get("id").string().unwrap_or_default();
        api.remote.services.lock().unwrap().remove(&id);
        Ok(())
    }
}

#[allow(dead_code)] // the test that includes this file does not call it
fn main() -> std::process::ExitCode {
    tfplugin::serve(DemoProvider::default())
}

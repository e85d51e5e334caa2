//! The tfplugin6 gRPC service, bridging protocol messages to the
//! [`Provider`]/[`Resource`]/[`DataSource`] traits.
//!
//! Everything schema-derived (the GetProviderSchema answer, value types) is
//! computed once at startup; each call decodes its values, runs the trait
//! method on a blocking thread, runs the planner and the self-checks, and
//! encodes the result.

use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tonic::{Request, Response, Status};

use crate::diag::{Diagnostic, Diagnostics};
use crate::log;
use crate::plan;
use crate::proto::tfplugin6 as pb;
use crate::proto::tfplugin6::provider_server::ProviderServer;
use crate::provider::{Ctx, DataSource, MoveSource, PlanChange, Provider, Resource};
use crate::schema::Schema;
use crate::server;
use crate::validation::validate_config;
use crate::value::{self, Type, Value};

/// Serves `provider` as a Terraform provider process (the whole `main`).
pub fn serve<P: Provider>(provider: P) -> ExitCode {
    match Bridge::new(provider) {
        Ok(bridge) => server::run(into_service_from(bridge)),
        Err(lints) => {
            eprintln!(
                "provider schema errors (a provider bug):\n{}",
                lints.join("\n")
            );
            ExitCode::from(1)
        }
    }
}

/// The tonic service for `provider` (used by [`serve`] and the test harness).
/// Panics on schema mistakes, which are provider bugs.
pub fn into_service<P: Provider>(provider: P) -> ProviderServer<Bridge> {
    match Bridge::new(provider) {
        Ok(b) => into_service_from(b),
        Err(lints) => panic!("provider schema errors:\n{}", lints.join("\n")),
    }
}

fn into_service_from(b: Bridge) -> ProviderServer<Bridge> {
    ProviderServer::new(b)
        .max_decoding_message_size(server::MAX_MESSAGE_BYTES)
        .max_encoding_message_size(server::MAX_MESSAGE_BYTES)
}

/// Checks every schema of a provider for author mistakes (for unit tests).
pub fn check_schemas<P: Provider>(provider: &P) -> Vec<String> {
    let mut lints = provider.schema().lint("provider");
    for r in provider.resources() {
        lints.extend(r.schema().lint(r.type_name()));
    }
    for d in provider.data_sources() {
        lints.extend(d.schema().lint(d.type_name()));
    }
    lints
}

struct Typed<T: ?Sized> {
    imp: Arc<T>,
    schema: Schema,
    ty: Type,
}

struct Inner {
    provider: Arc<dyn Provider>,
    provider_schema: Schema,
    provider_ty: Type,
    resources: HashMap<String, Typed<dyn Resource>>,
    data_sources: HashMap<String, Typed<dyn DataSource>>,
    schema_response: pb::get_provider_schema::Response,
    stopped: Arc<AtomicBool>,
}

/// The gRPC service implementation.
#[derive(Clone)]
pub struct Bridge(Arc<Inner>);

impl std::fmt::Debug for Bridge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Bridge({})", self.0.provider.type_name())
    }
}

fn capabilities() -> pb::ServerCapabilities {
    pb::ServerCapabilities {
        plan_destroy: false,
        get_provider_schema_optional: true,
        // Every resource answers MoveResourceState: a type that takes no
        // moves refuses with a diagnostic naming itself and the source.
        move_resource_state: true,
    }
}

impl Bridge {
    fn new<P: Provider>(provider: P) -> Result<Bridge, Vec<String>> {
        let lints = check_schemas(&provider);
        if !lints.is_empty() {
            return Err(lints);
        }
        let provider_schema = provider.schema();
        let resources: HashMap<String, Typed<dyn Resource>> = provider
            .resources()
            .into_iter()
            .map(|r| {
                let schema = r.schema();
                (
                    r.type_name().to_string(),
                    Typed {
                        ty: schema.value_type(),
                        schema,
                        imp: r,
                    },
                )
            })
            .collect();
        let data_sources: HashMap<String, Typed<dyn DataSource>> = provider
            .data_sources()
            .into_iter()
            .map(|d| {
                let schema = d.schema();
                (
                    d.type_name().to_string(),
                    Typed {
                        ty: schema.value_type(),
                        schema,
                        imp: d,
                    },
                )
            })
            .collect();
        let schema_response = pb::get_provider_schema::Response {
            provider: Some(provider_schema.to_proto()),
            resource_schemas: resources
                .iter()
                .map(|(k, r)| (k.clone(), r.schema.to_proto()))
                .collect(),
            data_source_schemas: data_sources
                .iter()
                .map(|(k, d)| (k.clone(), d.schema.to_proto()))
                .collect(),
            server_capabilities: Some(capabilities()),
            ..Default::default()
        };
        Ok(Bridge(Arc::new(Inner {
            provider_ty: provider_schema.value_type(),
            provider_schema,
            provider: Arc::new(provider),
            resources,
            data_sources,
            schema_response,
            stopped: Arc::new(AtomicBool::new(false)),
        })))
    }

    fn resource(&self, name: &str) -> Result<&Typed<dyn Resource>, Diagnostics> {
        self.0.resources.get(name).ok_or_else(|| {
            Diagnostics::error(
                "Unknown resource type",
                format!("this provider has no resource type {name:?}"),
            )
        })
    }

    fn data_source(&self, name: &str) -> Result<&Typed<dyn DataSource>, Diagnostics> {
        self.0.data_sources.get(name).ok_or_else(|| {
            Diagnostics::error(
                "Unknown data source",
                format!("this provider has no data source {name:?}"),
            )
        })
    }

    fn ctx(&self, private: Vec<u8>) -> Ctx {
        Ctx::new(self.0.stopped.clone(), private)
    }
}

fn decode(dv: Option<&pb::DynamicValue>, ty: &Type) -> Result<Value, Diagnostics> {
    let invalid = |e: String| Diagnostics::error("Invalid value from Terraform", e);
    match dv {
        Some(dv) if !dv.msgpack.is_empty() => {
            value::from_msgpack(&dv.msgpack, ty).map_err(|e| invalid(e.to_string()))
        }
        Some(dv) if !dv.json.is_empty() => {
            let j: serde_json::Value =
                serde_json::from_slice(&dv.json).map_err(|e| invalid(e.to_string()))?;
            value::from_json(&j, ty, false).map_err(|e| invalid(e.to_string()))
        }
        _ => Ok(Value::Null),
    }
}

fn encode(v: &Value, ty: &Type) -> Result<pb::DynamicValue, Diagnostics> {
    value::to_msgpack(v, ty)
        .map(|msgpack| pb::DynamicValue {
            msgpack,
            json: Vec::new(),
        })
        .map_err(|e| {
            Diagnostic::error(
                "Provider bug: value does not match its schema",
                e.to_string(),
            )
            .into()
        })
}

/// Runs provider code that may block (API calls: read, plan, apply, import)
/// on a blocking thread; a panic becomes an error diagnostic instead of
/// killing a long-lived (reattached) process.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, Diagnostics> + Send + 'static,
) -> Result<T, Diagnostics> {
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r,
        Err(e) => Err(Diagnostics::error(
            "Provider crashed",
            format!("the provider panicked: {e}"),
        )),
    }
}

/// Runs provider code that cannot do I/O (validation: Terraform calls it
/// before ConfigureProvider, so there is no client to call) right on the
/// runtime thread. The hop to a blocking thread costs more than the work
/// here: ~30 µs per resource per plan, measured by bench/plan1000.sh.
fn offline<T>(f: impl FnOnce() -> Result<T, Diagnostics>) -> Result<T, Diagnostics> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(_) => Err(Diagnostics::error(
            "Provider crashed",
            "the provider panicked while validating",
        )),
    }
}

fn diags_only(r: Result<(), Diagnostics>) -> Vec<pb::Diagnostic> {
    match r {
        Ok(()) => Vec::new(),
        Err(d) => d.to_proto(),
    }
}

fn errors_or(d: Diagnostics) -> Result<(), Diagnostics> {
    if d.has_errors() { Err(d) } else { Ok(()) }
}

type Rpc<T> = Result<Response<T>, Status>;

#[tonic::async_trait]
impl pb::provider_server::Provider for Bridge {
    async fn get_metadata(
        &self,
        _r: Request<pb::get_metadata::Request>,
    ) -> Rpc<pb::get_metadata::Response> {
        Ok(Response::new(pb::get_metadata::Response {
            server_capabilities: Some(capabilities()),
            resources: self
                .0
                .resources
                .keys()
                .map(|k| pb::get_metadata::ResourceMetadata {
                    type_name: k.clone(),
                })
                .collect(),
            data_sources: self
                .0
                .data_sources
                .keys()
                .map(|k| pb::get_metadata::DataSourceMetadata {
                    type_name: k.clone(),
                })
                .collect(),
            ..Default::default()
        }))
    }

    async fn get_provider_schema(
        &self,
        _r: Request<pb::get_provider_schema::Request>,
    ) -> Rpc<pb::get_provider_schema::Response> {
        Ok(Response::new(self.0.schema_response.clone()))
    }

    async fn validate_provider_config(
        &self,
        r: Request<pb::validate_provider_config::Request>,
    ) -> Rpc<pb::validate_provider_config::Response> {
        let r = r.into_inner();
        let res = offline(|| {
            let config = decode(r.config.as_ref(), &self.0.provider_ty)?;
            let mut d = validate_config(&self.0.provider_schema, &config);
            d.extend(self.0.provider.validate_config(&config));
            errors_or(d)
        });
        Ok(Response::new(pb::validate_provider_config::Response {
            diagnostics: diags_only(res),
        }))
    }

    async fn validate_resource_config(
        &self,
        r: Request<pb::validate_resource_config::Request>,
    ) -> Rpc<pb::validate_resource_config::Response> {
        let r = r.into_inner();
        let res = offline(|| {
            let t = self.resource(&r.type_name)?;
            let config = decode(r.config.as_ref(), &t.ty)?;
            let mut d = validate_config(&t.schema, &config);
            d.extend(t.imp.validate(&config));
            errors_or(d)
        });
        Ok(Response::new(pb::validate_resource_config::Response {
            diagnostics: diags_only(res),
        }))
    }

    async fn validate_data_resource_config(
        &self,
        r: Request<pb::validate_data_resource_config::Request>,
    ) -> Rpc<pb::validate_data_resource_config::Response> {
        let r = r.into_inner();
        let res = offline(|| {
            let t = self.data_source(&r.type_name)?;
            let config = decode(r.config.as_ref(), &t.ty)?;
            let mut d = validate_config(&t.schema, &config);
            d.extend(t.imp.validate(&config));
            errors_or(d)
        });
        Ok(Response::new(pb::validate_data_resource_config::Response {
            diagnostics: diags_only(res),
        }))
    }

    async fn upgrade_resource_state(
        &self,
        r: Request<pb::upgrade_resource_state::Request>,
    ) -> Rpc<pb::upgrade_resource_state::Response> {
        let r = r.into_inner();
        // Same schema version (every plan of existing resources): a decode
        // and re-encode with no provider code, done in place. An older
        // version runs the provider's upgrade on a blocking thread.
        enum Stored {
            Current(pb::DynamicValue),
            Older(serde_json::Value),
        }
        let stored = offline(|| {
            let t = self.resource(&r.type_name)?;
            let raw = r
                .raw_state
                .as_ref()
                .map(|s| s.json.as_slice())
                .unwrap_or_default();
            if raw.is_empty() {
                return encode(&Value::Null, &t.ty).map(Stored::Current);
            }
            let json: serde_json::Value = serde_json::from_slice(raw)
                .map_err(|e| Diagnostics::error("Stored state is not JSON", e.to_string()))?;
            if r.version != t.schema.version {
                return Ok(Stored::Older(json));
            }
            // Attributes dropped from the schema since are ignored.
            let v = value::from_json(&json, &t.ty, true).map_err(|e| {
                Diagnostics::error("Stored state does not match the schema", e.to_string())
            })?;
            encode(&v, &t.ty).map(Stored::Current)
        });
        let res = match stored {
            Ok(Stored::Older(json)) => {
                let this = self.clone();
                blocking(move || {
                    let t = this.resource(&r.type_name)?;
                    let upgraded = t
                        .imp
                        .upgrade_state(&this.ctx(Vec::new()), r.version, &json)?;
                    encode(&upgraded, &t.ty)
                })
                .await
            }
            Ok(Stored::Current(v)) => Ok(v),
            Err(d) => Err(d),
        };
        Ok(Response::new(match res {
            Ok(v) => pb::upgrade_resource_state::Response {
                upgraded_state: Some(v),
                diagnostics: Vec::new(),
            },
            Err(d) => pb::upgrade_resource_state::Response {
                upgraded_state: None,
                diagnostics: d.to_proto(),
            },
        }))
    }

    async fn configure_provider(
        &self,
        r: Request<pb::configure_provider::Request>,
    ) -> Rpc<pb::configure_provider::Response> {
        // A new run (or a repeated configure) starts un-stopped.
        self.0.stopped.store(false, Ordering::SeqCst);
        let this = self.clone();
        let r = r.into_inner();
        let res = blocking(move || {
            let config = decode(r.config.as_ref(), &this.0.provider_ty)?;
            errors_or(validate_config(&this.0.provider_schema, &config))?;
            errors_or(this.0.provider.configure(&this.ctx(Vec::new()), &config))
        })
        .await;
        Ok(Response::new(pb::configure_provider::Response {
            diagnostics: diags_only(res),
        }))
    }

    async fn read_resource(
        &self,
        r: Request<pb::read_resource::Request>,
    ) -> Rpc<pb::read_resource::Response> {
        let this = self.clone();
        let r = r.into_inner();
        let res = blocking(move || {
            let t = this.resource(&r.type_name)?;
            let state = decode(r.current_state.as_ref(), &t.ty)?;
            if state.is_null() {
                return Ok((encode(&Value::Null, &t.ty)?, r.private));
            }
            let ctx = this.ctx(r.private);
            let new = t.imp.read(&ctx, &state)?.unwrap_or(Value::Null);
            if !new.is_fully_known() {
                return Err(Diagnostics::error(
                    "Provider bug: read returned unknown values",
                    t.imp.type_name(),
                ));
            }
            Ok((encode(&new, &t.ty)?, ctx.take_private()))
        })
        .await;
        Ok(Response::new(match res {
            Ok((v, private)) => pb::read_resource::Response {
                new_state: Some(v),
                private,
                ..Default::default()
            },
            Err(d) => pb::read_resource::Response {
                diagnostics: d.to_proto(),
                ..Default::default()
            },
        }))
    }

    async fn plan_resource_change(
        &self,
        r: Request<pb::plan_resource_change::Request>,
    ) -> Rpc<pb::plan_resource_change::Response> {
        let this = self.clone();
        let r = r.into_inner();
        let res = blocking(move || {
            let t = this.resource(&r.type_name)?;
            let prior = decode(r.prior_state.as_ref(), &t.ty)?;
            let proposed = decode(r.proposed_new_state.as_ref(), &t.ty)?;
            let config = decode(r.config.as_ref(), &t.ty)?;
            if proposed.is_null() {
                // Destroy: nothing to plan.
                return Ok((
                    encode(&Value::Null, &t.ty)?,
                    Vec::new(),
                    r.prior_private,
                    Diagnostics::default(),
                ));
            }
            // Values unknown at validation may be known now.
            errors_or(validate_config(&t.schema, &config))?;
            let prior = (!prior.is_null()).then_some(prior);
            let (planned, requires_replace) =
                plan::plan(&t.schema, prior.as_ref(), &proposed, &config);
            let mut change = PlanChange {
                prior,
                config,
                planned,
                requires_replace,
            };
            let ctx = this.ctx(r.prior_private);
            let d = t.imp.modify_plan(&ctx, &mut change);
            errors_or(d.clone())?;
            errors_or(plan::check_planned(
                &t.schema,
                &change.config,
                &change.planned,
            ))?;
            let replace = change
                .requires_replace
                .iter()
                .map(crate::diag::path_to_proto)
                .collect();
            Ok((
                encode(&change.planned, &t.ty)?,
                replace,
                ctx.take_private(),
                d,
            ))
        })
        .await;
        Ok(Response::new(match res {
            Ok((planned, requires_replace, planned_private, d)) => {
                pb::plan_resource_change::Response {
                    planned_state: Some(planned),
                    requires_replace,
                    planned_private,
                    diagnostics: d.to_proto(),
                    ..Default::default()
                }
            }
            Err(d) => pb::plan_resource_change::Response {
                diagnostics: d.to_proto(),
                ..Default::default()
            },
        }))
    }

    async fn apply_resource_change(
        &self,
        r: Request<pb::apply_resource_change::Request>,
    ) -> Rpc<pb::apply_resource_change::Response> {
        let this = self.clone();
        let r = r.into_inner();
        let res = blocking(move || {
            let t = this.resource(&r.type_name)?;
            let prior = decode(r.prior_state.as_ref(), &t.ty)?;
            let planned = decode(r.planned_state.as_ref(), &t.ty)?;
            let config = decode(r.config.as_ref(), &t.ty)?;
            let ctx = this.ctx(r.planned_private);
            if planned.is_null() {
                t.imp.delete(&ctx, &prior)?;
                return Ok((encode(&Value::Null, &t.ty)?, Vec::new()));
            }
            let new = if prior.is_null() {
                t.imp.create(&ctx, &planned, &config)?
            } else {
                t.imp.update(&ctx, &prior, &planned, &config)?
            };
            errors_or(plan::check_applied(&planned, &new))?;
            Ok((encode(&new, &t.ty)?, ctx.take_private()))
        })
        .await;
        Ok(Response::new(match res {
            Ok((v, private)) => pb::apply_resource_change::Response {
                new_state: Some(v),
                private,
                ..Default::default()
            },
            Err(d) => pb::apply_resource_change::Response {
                diagnostics: d.to_proto(),
                ..Default::default()
            },
        }))
    }

    async fn import_resource_state(
        &self,
        r: Request<pb::import_resource_state::Request>,
    ) -> Rpc<pb::import_resource_state::Response> {
        let this = self.clone();
        let r = r.into_inner();
        let res = blocking(move || {
            let t = this.resource(&r.type_name)?;
            let ctx = this.ctx(Vec::new());
            let state = t.imp.import(&ctx, &r.id)?;
            Ok(pb::import_resource_state::ImportedResource {
                type_name: r.type_name.clone(),
                state: Some(encode(&state, &t.ty)?),
                private: ctx.take_private(),
            })
        })
        .await;
        Ok(Response::new(match res {
            Ok(imported) => pb::import_resource_state::Response {
                imported_resources: vec![imported],
                ..Default::default()
            },
            Err(d) => pb::import_resource_state::Response {
                diagnostics: d.to_proto(),
                ..Default::default()
            },
        }))
    }

    async fn move_resource_state(
        &self,
        r: Request<pb::move_resource_state::Request>,
    ) -> Rpc<pb::move_resource_state::Response> {
        let r = r.into_inner();
        // Pure by contract (the provider is not configured): run in place.
        let res = offline(|| {
            let t = self.resource(&r.target_type_name)?;
            let raw = r
                .source_state
                .as_ref()
                .map(|s| s.json.as_slice())
                .unwrap_or_default();
            if raw.is_empty() {
                return Err(Diagnostics::error(
                    "Cannot move resource state",
                    format!(
                        "Terraform sent no JSON state for {} (flatmap state from Terraform < 0.12 is not supported); refresh it with its own provider first.",
                        r.source_type_name
                    ),
                ));
            }
            let json: serde_json::Value = serde_json::from_slice(raw)
                .map_err(|e| Diagnostics::error("Source state is not JSON", e.to_string()))?;
            let ctx = self.ctx(Vec::new());
            let moved = t.imp.move_state(
                &ctx,
                &MoveSource {
                    provider: &r.source_provider_address,
                    type_name: &r.source_type_name,
                    schema_version: r.source_schema_version,
                    state: &json,
                    private: &r.source_private,
                },
            )?;
            if !moved.is_fully_known() {
                return Err(Diagnostics::error(
                    "Provider bug: moved state has unknown values",
                    t.imp.type_name(),
                ));
            }
            Ok((encode(&moved, &t.ty)?, ctx.take_private()))
        });
        Ok(Response::new(match res {
            Ok((v, private)) => pb::move_resource_state::Response {
                target_state: Some(v),
                target_private: private,
                ..Default::default()
            },
            Err(d) => pb::move_resource_state::Response {
                diagnostics: d.to_proto(),
                ..Default::default()
            },
        }))
    }

    async fn read_data_source(
        &self,
        r: Request<pb::read_data_source::Request>,
    ) -> Rpc<pb::read_data_source::Response> {
        let this = self.clone();
        let r = r.into_inner();
        let res = blocking(move || {
            let t = this.data_source(&r.type_name)?;
            let config = decode(r.config.as_ref(), &t.ty)?;
            // Values unknown at validation are known now.
            errors_or(validate_config(&t.schema, &config))?;
            let state = t.imp.read(&this.ctx(Vec::new()), &config)?;
            let mut d = plan::check_applied(&config_as_plan(&t.schema, &config), &state);
            if !state.is_fully_known() {
                d.push(Diagnostic::error(
                    "Provider bug: data source returned unknown values",
                    t.imp.type_name(),
                ));
            }
            errors_or(d)?;
            encode(&state, &t.ty)
        })
        .await;
        Ok(Response::new(match res {
            Ok(v) => pb::read_data_source::Response {
                state: Some(v),
                ..Default::default()
            },
            Err(d) => pb::read_data_source::Response {
                diagnostics: d.to_proto(),
                ..Default::default()
            },
        }))
    }

    async fn validate_ephemeral_resource_config(
        &self,
        _r: Request<pb::validate_ephemeral_resource_config::Request>,
    ) -> Rpc<pb::validate_ephemeral_resource_config::Response> {
        Ok(Response::new(
            pb::validate_ephemeral_resource_config::Response {
                diagnostics: unsupported("ephemeral resources"),
            },
        ))
    }

    async fn open_ephemeral_resource(
        &self,
        _r: Request<pb::open_ephemeral_resource::Request>,
    ) -> Rpc<pb::open_ephemeral_resource::Response> {
        Ok(Response::new(pb::open_ephemeral_resource::Response {
            diagnostics: unsupported("ephemeral resources"),
            ..Default::default()
        }))
    }

    async fn renew_ephemeral_resource(
        &self,
        _r: Request<pb::renew_ephemeral_resource::Request>,
    ) -> Rpc<pb::renew_ephemeral_resource::Response> {
        Ok(Response::new(pb::renew_ephemeral_resource::Response {
            diagnostics: unsupported("ephemeral resources"),
            ..Default::default()
        }))
    }

    async fn close_ephemeral_resource(
        &self,
        _r: Request<pb::close_ephemeral_resource::Request>,
    ) -> Rpc<pb::close_ephemeral_resource::Response> {
        Ok(Response::new(pb::close_ephemeral_resource::Response {
            diagnostics: unsupported("ephemeral resources"),
        }))
    }

    async fn get_functions(
        &self,
        _r: Request<pb::get_functions::Request>,
    ) -> Rpc<pb::get_functions::Response> {
        Ok(Response::new(pb::get_functions::Response::default()))
    }

    async fn call_function(
        &self,
        r: Request<pb::call_function::Request>,
    ) -> Rpc<pb::call_function::Response> {
        Ok(Response::new(pb::call_function::Response {
            result: None,
            error: Some(pb::FunctionError {
                text: format!("this provider has no function {:?}", r.into_inner().name),
                function_argument: None,
            }),
        }))
    }

    async fn stop_provider(
        &self,
        _r: Request<pb::stop_provider::Request>,
    ) -> Rpc<pb::stop_provider::Response> {
        log::info("StopProvider: cancelling in-flight operations");
        self.0.stopped.store(true, Ordering::SeqCst);
        Ok(Response::new(pb::stop_provider::Response {
            error: String::new(),
        }))
    }
}

fn unsupported(what: &str) -> Vec<pb::Diagnostic> {
    Diagnostics::error(
        format!("{what} are not supported"),
        "this provider defines none",
    )
    .to_proto()
}

/// For data sources, configured (non-computed) attributes must come back as
/// configured: that is Terraform's rule, checked like an applied plan.
fn config_as_plan(schema: &Schema, config: &Value) -> Value {
    let mut out = std::collections::BTreeMap::new();
    for a in &schema.block.attributes {
        let v = config.get(&a.name);
        let keep = !a.computed || !v.is_null();
        out.insert(
            a.name.clone(),
            if keep { v.clone() } else { Value::Unknown },
        );
    }
    for b in &schema.block.blocks {
        out.insert(b.name.clone(), config.get(&b.name).clone());
    }
    Value::Object(out)
}

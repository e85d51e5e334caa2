//! The SDK conformance suite: a test-only provider exercising every SDK
//! feature through the REAL terraform binary (reattach mode).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tfplugin::diag::{Diagnostic, Diagnostics};
use tfplugin::provider::{Ctx, DataSource, MoveSource, Provider, Resource};
use tfplugin::schema::{Attribute, Nesting, Schema};
use tfplugin::testing::Harness;
use tfplugin::value::{AttrPath, Type, Value};

/// The "remote system": objects by id, shared by every resource instance.
#[derive(Default)]
struct Store {
    objects: Mutex<HashMap<String, Value>>,
    next: AtomicU64,
}

#[derive(Clone, Default)]
struct Conf {
    store: Arc<Store>,
}

impl Provider for Conf {
    fn type_name(&self) -> &'static str {
        "conf"
    }
    fn schema(&self) -> Schema {
        Schema::new(vec![Attribute::new("greeting", Type::String).optional()])
    }
    fn configure(&self, _ctx: &Ctx, _config: &Value) -> Diagnostics {
        Diagnostics::default()
    }
    fn resources(&self) -> Vec<Arc<dyn Resource>> {
        vec![Arc::new(Thing(self.store.clone()))]
    }
    fn data_sources(&self) -> Vec<Arc<dyn DataSource>> {
        vec![Arc::new(Echo)]
    }
}

struct Thing(Arc<Store>);

impl Thing {
    fn save(&self, v: Value) -> Value {
        let id = v.get("id").as_str().unwrap_or_default().to_string();
        self.0.objects.lock().unwrap().insert(id, v.clone());
        v
    }
}

impl Resource for Thing {
    fn type_name(&self) -> &'static str {
        "conf_thing"
    }

    fn schema(&self) -> Schema {
        Schema::new(vec![
            Attribute::new("id", Type::String)
                .computed()
                .use_state_for_unknown(),
            Attribute::new("name", Type::String).required(),
            Attribute::new("zone", Type::String)
                .optional()
                .requires_replace(),
            Attribute::new("secret", Type::String)
                .optional()
                .sensitive(),
            Attribute::new("revision", Type::Number).computed(),
            Attribute::new("enabled", Type::Bool)
                .optional()
                .computed()
                .default(Value::from(true)),
            Attribute::new("delay_ms", Type::Number).optional(),
            Attribute::nested(
                "rules",
                Nesting::List,
                vec![
                    Attribute::new("port", Type::Number).required(),
                    Attribute::new("proto", Type::String)
                        .optional()
                        .computed()
                        .default(Value::from("tcp")),
                ],
            )
            .optional(),
            Attribute::nested(
                "labels",
                Nesting::Set,
                vec![
                    Attribute::new("key", Type::String).required(),
                    Attribute::new("value", Type::String).required(),
                ],
            )
            .optional(),
        ])
        .version(1)
    }

    fn validate(&self, config: &Value) -> Diagnostics {
        let mut d = Diagnostics::default();
        if config.get("name").as_str().is_some_and(|n| n.contains(' ')) {
            d.push(
                Diagnostic::error("Invalid name", "names cannot contain spaces")
                    .at(AttrPath::root().attr("name")),
            );
        }
        d
    }

    fn create(&self, ctx: &Ctx, planned: &Value, _config: &Value) -> Result<Value, Diagnostics> {
        if let Some(ms) = planned.get("delay_ms").as_i64() {
            tfplugin::log::info("conf_thing: slow create started");
            let until = Instant::now() + Duration::from_millis(ms as u64);
            while Instant::now() < until {
                ctx.check_stopped()?;
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        let id = format!("thing-{}", self.0.next.fetch_add(1, Ordering::SeqCst));
        ctx.set_private(b"created".to_vec());
        Ok(self.save(
            planned
                .clone()
                .with_attr("id", Value::from(id))
                .with_attr("revision", Value::from(1)),
        ))
    }

    fn read(&self, ctx: &Ctx, state: &Value) -> Result<Option<Value>, Diagnostics> {
        assert_eq!(
            ctx.private(),
            b"created",
            "private state survives between calls"
        );
        let id = state.get("id").as_str().unwrap_or_default();
        Ok(self.0.objects.lock().unwrap().get(id).cloned())
    }

    fn update(
        &self,
        _ctx: &Ctx,
        prior: &Value,
        planned: &Value,
        _config: &Value,
    ) -> Result<Value, Diagnostics> {
        let rev = prior.get("revision").as_i64().unwrap_or(0) + 1;
        Ok(self.save(planned.clone().with_attr("revision", Value::from(rev))))
    }

    fn delete(&self, _ctx: &Ctx, prior: &Value) -> Result<(), Diagnostics> {
        let id = prior.get("id").as_str().unwrap_or_default();
        self.0.objects.lock().unwrap().remove(id);
        Ok(())
    }

    fn import(&self, ctx: &Ctx, id: &str) -> Result<Value, Diagnostics> {
        if !self.0.objects.lock().unwrap().contains_key(id) {
            return Err(Diagnostics::error(
                "Cannot import",
                format!("no thing with id {id:?}"),
            ));
        }
        ctx.set_private(b"created".to_vec());
        Ok(Value::object([("id", Value::from(id))]))
    }

    /// Takes over `legacy_thing`s (another provider): `label` became `name`.
    fn move_state(&self, ctx: &Ctx, source: &MoveSource<'_>) -> Result<Value, Diagnostics> {
        if (source.provider, source.type_name, source.schema_version)
            != (LEGACY_SOURCE, "legacy_thing", 0)
        {
            return Err(Diagnostics::error(
                "Cannot move",
                format!(
                    "conf_thing takes over legacy_thing only, not {} of {}",
                    source.type_name, source.provider
                ),
            ));
        }
        let id = source.state["id"].as_str().unwrap_or_default();
        let label = source.state["label"].as_str().unwrap_or_default();
        ctx.set_private(b"created".to_vec());
        Ok(Value::object([
            ("id", Value::from(id)),
            ("name", Value::from(label)),
        ]))
    }

    fn upgrade_state(
        &self,
        _ctx: &Ctx,
        from_version: i64,
        raw: &serde_json::Value,
    ) -> Result<Value, Diagnostics> {
        assert_eq!(from_version, 0);
        // Version 0 called `name` `title` and had no `enabled`.
        let mut j = raw.clone();
        let title = j["title"].take();
        let obj = j.as_object_mut().expect("object state");
        obj.remove("title");
        obj.insert("name".into(), title);
        obj.insert("enabled".into(), serde_json::Value::Bool(true));
        tfplugin::value::from_json(&j, &self.schema().value_type(), true)
            .map_err(|e| Diagnostics::error("upgrade", e.to_string()))
    }
}

/// Another provider's view of the same remote objects, for moves across
/// providers: `legacy_thing` calls `name` `label`. It takes no moves itself.
const LEGACY_SOURCE: &str = "registry.terraform.io/homelab/legacy";

#[derive(Clone, Default)]
struct Legacy {
    store: Arc<Store>,
}

impl Provider for Legacy {
    fn type_name(&self) -> &'static str {
        "legacy"
    }
    fn schema(&self) -> Schema {
        Schema::new(vec![])
    }
    fn configure(&self, _ctx: &Ctx, _config: &Value) -> Diagnostics {
        Diagnostics::default()
    }
    fn resources(&self) -> Vec<Arc<dyn Resource>> {
        vec![Arc::new(LegacyThing(self.store.clone()))]
    }
    fn data_sources(&self) -> Vec<Arc<dyn DataSource>> {
        Vec::new()
    }
}

struct LegacyThing(Arc<Store>);

impl Resource for LegacyThing {
    fn type_name(&self) -> &'static str {
        "legacy_thing"
    }
    fn schema(&self) -> Schema {
        Schema::new(vec![
            Attribute::new("id", Type::String)
                .computed()
                .use_state_for_unknown(),
            Attribute::new("label", Type::String).required(),
        ])
    }
    fn create(&self, ctx: &Ctx, planned: &Value, _config: &Value) -> Result<Value, Diagnostics> {
        let id = format!("legacy-{}", self.0.next.fetch_add(1, Ordering::SeqCst));
        let label = planned.get("label").clone();
        // The remote object, as conf_thing sees it.
        let object = Value::object([
            ("id", Value::from(id.as_str())),
            ("name", label.clone()),
            ("zone", Value::Null),
            ("secret", Value::Null),
            ("revision", Value::from(1)),
            ("enabled", Value::from(true)),
            ("delay_ms", Value::Null),
            ("rules", Value::Null),
            ("labels", Value::Null),
        ]);
        self.0.objects.lock().unwrap().insert(id.clone(), object);
        ctx.set_private(b"created".to_vec());
        Ok(Value::object([("id", Value::from(id)), ("label", label)]))
    }
    fn read(&self, _ctx: &Ctx, state: &Value) -> Result<Option<Value>, Diagnostics> {
        let id = state.get("id").as_str().unwrap_or_default();
        Ok(self
            .0
            .objects
            .lock()
            .unwrap()
            .get(id)
            .map(|o| Value::object([("id", Value::from(id)), ("label", o.get("name").clone())])))
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
    fn delete(&self, _ctx: &Ctx, prior: &Value) -> Result<(), Diagnostics> {
        let id = prior.get("id").as_str().unwrap_or_default();
        self.0.objects.lock().unwrap().remove(id);
        Ok(())
    }
}

struct Echo;

impl DataSource for Echo {
    fn type_name(&self) -> &'static str {
        "conf_echo"
    }
    fn schema(&self) -> Schema {
        Schema::new(vec![
            Attribute::new("input", Type::String).required(),
            Attribute::new("upper", Type::String).computed(),
            Attribute::new("words", Type::list(Type::String)).computed(),
        ])
    }
    fn read(&self, _ctx: &Ctx, config: &Value) -> Result<Value, Diagnostics> {
        let input = config.get("input").as_str().unwrap_or_default();
        Ok(config
            .clone()
            .with_attr("upper", Value::from(input.to_uppercase()))
            .with_attr("words", Value::string_list(input.split_whitespace())))
    }
}

const HEADER: &str = r#"
terraform {
  required_providers {
    conf = { source = "homelab/conf" }
  }
}
provider "conf" {}
"#;

fn harness() -> (Harness, Conf) {
    let p = Conf::default();
    (Harness::new("homelab/conf", p.clone()), p)
}

fn stored(p: &Conf) -> Vec<Value> {
    p.store.objects.lock().unwrap().values().cloned().collect()
}

#[test]
fn lifecycle_plan_apply_replan_refresh_import_destroy() {
    let (h, p) = harness();
    let cfg = format!(
        r#"{HEADER}
resource "conf_thing" "a" {{
  name   = "alpha"
  secret = "s3cr3t-value"
  rules  = [{{ port = 443 }}, {{ port = 53, proto = "udp" }}]
  labels = [{{ key = "team", value = "platform" }}, {{ key = "env", value = "prod" }}]
}}
"#
    );
    h.config(&cfg);
    let plan = h.run(&["plan", "-no-color"]);
    assert!(
        plan.stdout.contains("(sensitive value)"),
        "sensitive values are hidden in plans:\n{}",
        plan.stdout
    );
    assert!(!plan.stdout.contains("s3cr3t-value"));
    assert!(plan.stdout.contains("(known after apply)"));
    let by_id = |v: &serde_json::Value| v["id"].as_str().unwrap().to_string();
    h.run_standard_steps(&cfg, Some(("conf_thing.a", &by_id)));
    assert!(stored(&p).is_empty(), "destroy deleted the object");
    h.apply();
    let objects = stored(&p);
    assert_eq!(objects.len(), 1);
    assert_eq!(
        objects[0].get("rules").as_list().unwrap()[0].get("proto"),
        &Value::from("tcp"),
        "nested default applied"
    );
    assert_eq!(
        objects[0].get("labels").as_list().unwrap().len(),
        2,
        "set of objects"
    );
}

#[test]
fn update_in_place_versus_replace() {
    let (h, p) = harness();
    let cfg = |name: &str, zone: &str| {
        format!(
            "{HEADER}\nresource \"conf_thing\" \"a\" {{\n  name = \"{name}\"\n  zone = \"{zone}\"\n}}\n"
        )
    };
    h.config(&cfg("one", "z1"));
    h.apply();
    let first = stored(&p)[0].clone();
    h.config(&cfg("two", "z1"));
    h.apply();
    let updated = stored(&p)[0].clone();
    assert_eq!(
        updated.get("id"),
        first.get("id"),
        "in-place update keeps the id (UseStateForUnknown)"
    );
    assert_eq!(updated.get("revision").as_i64(), Some(2));
    h.assert_plan_empty();
    h.config(&cfg("two", "z2"));
    let plan = h.run(&["plan", "-no-color"]);
    assert!(
        plan.stdout.contains("must be replaced"),
        "zone change forces replacement:\n{}",
        plan.stdout
    );
    h.apply();
    let replaced = stored(&p);
    assert_eq!(replaced.len(), 1);
    assert_ne!(replaced[0].get("id"), first.get("id"));
    h.assert_plan_empty();
}

#[test]
fn unknown_values_flow_between_resources_and_data_sources() {
    let (h, p) = harness();
    h.config(&format!(
        r#"{HEADER}
resource "conf_thing" "a" {{ name = "source" }}
resource "conf_thing" "b" {{ name = conf_thing.a.id }}
data "conf_echo" "e" {{ input = "hello ${{conf_thing.a.id}}" }}
output "upper" {{ value = data.conf_echo.e.upper }}
output "words" {{ value = data.conf_echo.e.words }}
"#
    ));
    h.apply();
    let a_id = stored(&p)
        .into_iter()
        .find(|v| v.get("name") == &Value::from("source"))
        .unwrap()
        .get("id")
        .clone();
    assert!(stored(&p).iter().any(|v| v.get("name") == &a_id));
    assert_eq!(
        h.output("upper"),
        format!("HELLO {}", a_id.as_str().unwrap().to_uppercase())
    );
    assert_eq!(h.output("words")[0], "hello");
    h.assert_plan_empty();
}

#[test]
fn validation_errors_carry_the_attribute_path() {
    let (h, _) = harness();
    h.config(&format!(
        "{HEADER}\nresource \"conf_thing\" \"a\" {{ name = \"has space\" }}\n"
    ));
    let out = h.run(&["plan", "-no-color"]);
    assert_ne!(out.status, 0);
    assert!(out.stderr.contains("Invalid name"), "{}", out.stderr);
    assert!(
        out.stderr.contains("name = \"has space\""),
        "diagnostic points at the attribute:\n{}",
        out.stderr
    );
}

#[test]
fn state_written_by_schema_version_0_is_upgraded() {
    let (h, p) = harness();
    h.config(&format!(
        "{HEADER}\nresource \"conf_thing\" \"a\" {{ name = \"old\" }}\n"
    ));
    // An object the v0 provider created, and its v0 state.
    let obj = Value::object([
        ("id", Value::from("legacy-1")),
        ("name", Value::from("old")),
        ("zone", Value::Null),
        ("secret", Value::Null),
        ("revision", Value::from(7)),
        ("enabled", Value::from(true)),
        ("delay_ms", Value::Null),
        ("rules", Value::Null),
        ("labels", Value::Null),
    ]);
    p.store
        .objects
        .lock()
        .unwrap()
        .insert("legacy-1".into(), obj);
    let state = serde_json::json!({
        "version": 4, "terraform_version": "1.11.4", "serial": 1, "lineage": "00000000-0000-0000-0000-000000000001",
        "outputs": {},
        "resources": [{
            "mode": "managed", "type": "conf_thing", "name": "a",
            "provider": "provider[\"registry.terraform.io/homelab/conf\"]",
            "instances": [{
                "schema_version": 0,
                "attributes": {"id": "legacy-1", "title": "old", "zone": null, "secret": null, "revision": 7, "delay_ms": null, "rules": null, "labels": null},
                "private": "Y3JlYXRlZA=="
            }]
        }]
    });
    std::fs::write(h.work_dir().join("terraform.tfstate"), state.to_string()).unwrap();
    h.assert_plan_empty();
    h.refresh();
    let st = h.state_json();
    assert_eq!(
        st["values"]["root_module"]["resources"][0]["values"]["name"],
        "old"
    );
}

#[test]
fn moved_across_providers_takes_over_the_object_and_refusals_are_named() {
    let conf = Conf::default();
    let legacy = Legacy {
        store: conf.store.clone(),
    };
    let h = Harness::new("homelab/conf", conf.clone()).with_provider(LEGACY_SOURCE, legacy);
    let header = r#"
terraform {
  required_providers {
    conf   = { source = "homelab/conf" }
    legacy = { source = "homelab/legacy" }
  }
}
"#;
    h.config(&format!(
        "{header}\nresource \"legacy_thing\" \"a\" {{ label = \"kept\" }}\n"
    ));
    h.apply();
    let id = h.resource_values("legacy_thing.a")["id"]
        .as_str()
        .unwrap()
        .to_string();

    h.config(&format!(
        r#"{header}
resource "conf_thing" "a" {{ name = "kept" }}
moved {{
  from = legacy_thing.a
  to   = conf_thing.a
}}
"#
    ));
    let plan = h.plan_json();
    let changes = plan["resource_changes"].as_array().unwrap();
    assert_eq!(changes.len(), 1, "{changes:#?}");
    assert_eq!(changes[0]["address"], "conf_thing.a");
    assert_eq!(changes[0]["previous_address"], "legacy_thing.a");
    assert_eq!(
        changes[0]["change"]["actions"],
        serde_json::json!(["no-op"]),
        "a move, not a replacement"
    );
    h.apply();
    h.assert_plan_empty();
    assert_eq!(h.resource_values("conf_thing.a")["id"], id.as_str());
    assert_eq!(stored(&conf).len(), 1, "the same object, nothing created");

    // legacy_thing takes no moves: the refusal names both types.
    h.config(&format!(
        r#"{header}
resource "legacy_thing" "b" {{ label = "kept" }}
moved {{
  from = conf_thing.a
  to   = legacy_thing.b
}}
"#
    ));
    let out = h.run(&["plan", "-no-color"]);
    assert!(!out.success());
    let text = out
        .combined()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        text.contains("Move not supported")
            && text.contains("legacy_thing cannot take over the state of conf_thing (registry.terraform.io/homelab/conf)"),
        "{text}"
    );
}

#[test]
fn interrupt_during_apply_stops_the_provider() {
    let (h, p) = harness();
    h.config(&format!(
        "{HEADER}\nresource \"conf_thing\" \"slow\" {{\n  name = \"slow\"\n  delay_ms = 60000\n}}\n"
    ));
    let child = h.spawn(&["apply", "-auto-approve", "-input=false", "-no-color"]);
    let started = Instant::now();
    while !h.provider_logs().contains("slow create started") {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the slow create never started"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success(), "an interrupted apply fails");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "StopProvider cancelled the 60 s create early"
    );
    assert!(
        text.contains("Operation cancelled"),
        "the cancellation is reported:\n{text}"
    );
    assert!(stored(&p).is_empty(), "nothing was created");
}

#[test]
fn protocol_level_schema_and_capabilities() {
    use tfplugin::proto::tfplugin6 as pb;
    let (h, _) = harness();
    let mut client = h.client();
    let resp = h
        .block_on(client.get_provider_schema(pb::get_provider_schema::Request {}))
        .expect("GetProviderSchema")
        .into_inner();
    let caps = resp.server_capabilities.unwrap();
    assert!(caps.get_provider_schema_optional);
    assert!(
        caps.move_resource_state,
        "moved blocks across types reach us"
    );
    let thing = &resp.resource_schemas["conf_thing"];
    assert_eq!(thing.version, 1);
    let secret = thing
        .block
        .as_ref()
        .unwrap()
        .attributes
        .iter()
        .find(|a| a.name == "secret")
        .unwrap();
    assert!(secret.sensitive);
    assert!(resp.data_source_schemas.contains_key("conf_echo"));
    // Repeated ConfigureProvider is fine.
    for _ in 0..2 {
        let r = h
            .block_on(client.configure_provider(pb::configure_provider::Request::default()))
            .expect("ConfigureProvider")
            .into_inner();
        assert!(r.diagnostics.is_empty());
    }
}

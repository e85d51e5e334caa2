//! Acceptance testing against the REAL `terraform` binary.
//!
//! [`Harness`] serves a provider in-process on a plaintext unix socket and
//! points terraform at it through `TF_REATTACH_PROVIDERS`, in a private work
//! directory with its own CLI configuration (a user's `~/.terraformrc` is
//! never read). A test that needs terraform fails with a clear message when
//! it is missing; it never skips. [`Harness::client`] gives a plain gRPC
//! client for protocol-level tests.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;

use crate::grpc::into_service;
use crate::log;
use crate::proto::tfplugin6::provider_client::ProviderClient;
use crate::provider::Provider;
use crate::server::ReattachServer;

/// Computes an import ID from a resource's state values.
pub type ImportId = dyn Fn(&serde_json::Value) -> String;

/// Output of one terraform run.
#[derive(Debug, Clone)]
pub struct RunOutput {
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
}

impl RunOutput {
    pub fn success(&self) -> bool {
        self.status == 0
    }
    /// stdout and stderr together, for assertions on messages.
    pub fn combined(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
}

/// `homelab/x` → `registry.terraform.io/homelab/x`; full addresses unchanged.
fn qualified(source: &str) -> String {
    if source.matches('/').count() >= 2 {
        source.to_string()
    } else {
        format!("registry.terraform.io/{source}")
    }
}

/// Finds `terraform` on PATH or panics with what to do.
pub fn terraform_bin() -> PathBuf {
    std::env::var_os("PATH")
        .and_then(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join("terraform"))
                .find(|c| c.is_file())
        })
        .unwrap_or_else(|| {
            panic!(
                "terraform is not on PATH: this acceptance test drives the real terraform binary. \
                 Install Terraform >= 1.11 (scripts/install-deps.sh checks for it)."
            )
        })
}

pub struct Harness {
    // Field order matters: the servers must stop before the runtime goes.
    server: ReattachServer,
    /// Further providers served in this process: (address, server).
    others: Vec<(String, ReattachServer)>,
    runtime: tokio::runtime::Runtime,
    source: String,
    dir: tempfile::TempDir,
    env: Mutex<Vec<(String, String)>>,
    terraform: PathBuf,
}

impl Harness {
    /// Serves `provider` for terraform under `source` (`homelab/goldmane-edges`
    /// or a fully qualified address).
    pub fn new<P: Provider>(source: &str, provider: P) -> Harness {
        let terraform = terraform_bin();
        log::start_capture();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("tokio runtime");
        let server = ReattachServer::start(runtime.handle(), into_service(provider))
            .expect("start provider server");
        let source = qualified(source);
        let dir = tempfile::Builder::new()
            .prefix("tfplugin-acc")
            .tempdir()
            .expect("temp dir");
        std::fs::write(
            dir.path().join(".terraformrc"),
            "disable_checkpoint = true\n",
        )
        .expect("write CLI config");
        Harness {
            server,
            others: Vec::new(),
            runtime,
            source,
            dir,
            env: Mutex::new(Vec::new()),
            terraform,
        }
    }

    /// Also serves `provider` under `source`, for configurations that use two
    /// providers: the other side of a `moved` block across providers, or a
    /// stand-in for a third-party provider that cannot be downloaded here.
    pub fn with_provider<P: Provider>(mut self, source: &str, provider: P) -> Harness {
        let server = ReattachServer::start(self.runtime.handle(), into_service(provider))
            .expect("start provider server");
        self.others.push((qualified(source), server));
        self
    }

    /// `TF_REATTACH_PROVIDERS`: every provider this harness serves.
    fn reattach_json(&self) -> String {
        let mut all: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(&self.server.reattach_json(&self.source)).expect("reattach JSON");
        for (source, server) in &self.others {
            let one: serde_json::Map<String, serde_json::Value> =
                serde_json::from_str(&server.reattach_json(source)).expect("reattach JSON");
            all.extend(one);
        }
        serde_json::Value::Object(all).to_string()
    }

    pub fn work_dir(&self) -> &Path {
        self.dir.path()
    }

    /// Writes `main.tf` and runs `terraform init` (fails loudly).
    pub fn config(&self, hcl: &str) {
        std::fs::write(self.dir.path().join("main.tf"), hcl).expect("write main.tf");
        let out = self.run(&["init", "-input=false", "-no-color"]);
        assert!(out.success(), "terraform init failed:\n{}", out.combined());
    }

    /// Extra environment for every later terraform run.
    pub fn env(&self, key: &str, val: &str) {
        if let Ok(mut e) = self.env.lock() {
            e.retain(|(k, _)| k != key);
            e.push((key.to_string(), val.to_string()));
        }
    }

    /// A terraform command in the work dir, wired to the in-process provider.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.terraform);
        cmd.args(args)
            .current_dir(self.dir.path())
            .env("TF_REATTACH_PROVIDERS", self.reattach_json())
            .env("TF_CLI_CONFIG_FILE", self.dir.path().join(".terraformrc"))
            .env("TF_IN_AUTOMATION", "1")
            .env("TF_INPUT", "0")
            .env("CHECKPOINT_DISABLE", "1")
            .env_remove("TF_LOG")
            .stdin(Stdio::null());
        if let Ok(e) = self.env.lock() {
            for (k, v) in e.iter() {
                cmd.env(k, v);
            }
        }
        cmd
    }

    /// Runs terraform with `args` and returns its output (never panics on failure).
    pub fn run(&self, args: &[&str]) -> RunOutput {
        let out = self.command(args).output().expect("run terraform");
        RunOutput {
            status: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Starts terraform without waiting (for interrupt tests).
    pub fn spawn(&self, args: &[&str]) -> Child {
        self.command(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn terraform")
    }

    fn must(&self, what: &str, args: &[&str]) -> RunOutput {
        let out = self.run(args);
        assert!(
            out.success(),
            "terraform {what} failed (exit {}):\n{}",
            out.status,
            out.combined()
        );
        out
    }

    pub fn apply(&self) -> RunOutput {
        self.must(
            "apply",
            &["apply", "-auto-approve", "-input=false", "-no-color"],
        )
    }

    /// `plan -detailed-exitcode` must report no changes.
    pub fn assert_plan_empty(&self) {
        let out = self.run(&["plan", "-detailed-exitcode", "-input=false", "-no-color"]);
        assert_eq!(
            out.status,
            0,
            "expected an empty plan, got exit {}:\n{}",
            out.status,
            out.combined()
        );
    }

    /// Refresh-only apply (reads every resource, writes state).
    pub fn refresh(&self) -> RunOutput {
        self.must(
            "refresh",
            &[
                "apply",
                "-refresh-only",
                "-auto-approve",
                "-input=false",
                "-no-color",
            ],
        )
    }

    /// The plan as `terraform show -json` sees it.
    pub fn plan_json(&self) -> serde_json::Value {
        self.must(
            "plan",
            &["plan", "-out=acc.tfplan", "-input=false", "-no-color"],
        );
        let out = self.must("show", &["show", "-json", "acc.tfplan"]);
        serde_json::from_str(&out.stdout).expect("plan JSON")
    }

    /// The value of root output `name` (`terraform output -json NAME`).
    pub fn output(&self, name: &str) -> serde_json::Value {
        let out = self.must("output", &["output", "-json", name]);
        serde_json::from_str(&out.stdout).expect("output JSON")
    }

    pub fn state_json(&self) -> serde_json::Value {
        let out = self.must("show", &["show", "-json"]);
        serde_json::from_str(&out.stdout).expect("state JSON")
    }

    /// The state values of one root-module resource (`type.name`).
    pub fn resource_values(&self, addr: &str) -> serde_json::Value {
        let state = self.state_json();
        let resources = state["values"]["root_module"]["resources"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        resources
            .into_iter()
            .find(|r| r["address"] == addr)
            .map(|r| r["values"].clone())
            .unwrap_or_else(|| panic!("{addr} is not in the state"))
    }

    /// The raw `terraform.tfstate` text (for "no secret in state" checks).
    pub fn raw_state(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("terraform.tfstate")).unwrap_or_default()
    }

    pub fn import(&self, addr: &str, id: &str) -> RunOutput {
        self.run(&["import", "-input=false", "-no-color", addr, id])
    }

    pub fn destroy(&self) -> RunOutput {
        self.run(&["destroy", "-auto-approve", "-input=false", "-no-color"])
    }

    /// Everything the provider logged in this test process.
    pub fn provider_logs(&self) -> String {
        log::captured()
    }

    /// `terraform providers schema -json`, the entry for this provider.
    pub fn providers_schema_json(&self) -> serde_json::Value {
        let out = self.must("providers schema", &["providers", "schema", "-json"]);
        let all: serde_json::Value = serde_json::from_str(&out.stdout).expect("schema JSON");
        all["provider_schemas"][&self.source].clone()
    }

    /// The whole output of `terraform providers schema -json` (for schemas/).
    pub fn providers_schema_document(&self) -> serde_json::Value {
        let out = self.must("providers schema", &["providers", "schema", "-json"]);
        serde_json::from_str(&out.stdout).expect("schema JSON")
    }

    /// The standard lifecycle: plan shows changes → apply → empty re-plan →
    /// refresh → (state rm + import → empty plan) → destroy. `import` names a
    /// resource address and computes its import ID from that resource's
    /// state values (as `terraform show -json` prints them).
    pub fn run_standard_steps(&self, hcl: &str, import: Option<(&str, &ImportId)>) {
        self.config(hcl);
        let plan = self.run(&["plan", "-detailed-exitcode", "-input=false", "-no-color"]);
        assert_eq!(
            plan.status,
            2,
            "first plan should have changes:\n{}",
            plan.combined()
        );
        self.apply();
        self.assert_plan_empty();
        self.refresh();
        self.assert_plan_empty();
        if let Some((addr, import_id)) = import {
            let id = import_id(&self.resource_values(addr));
            self.must("state rm", &["state", "rm", addr]);
            let out = self.import(addr, &id);
            assert!(
                out.success(),
                "import of {addr} from {id:?} failed:\n{}",
                out.combined()
            );
            self.assert_plan_empty();
        }
        let out = self.destroy();
        assert!(out.success(), "destroy failed:\n{}", out.combined());
    }

    /// A plain gRPC client on the provider socket (protocol-level tests).
    pub fn client(&self) -> ProviderClient<tonic::transport::Channel> {
        let socket = self.server.socket().to_path_buf();
        self.runtime.block_on(async move {
            let channel = tonic::transport::Endpoint::try_from("http://provider.local")
                .expect("endpoint")
                .connect_with_connector(tower::service_fn(move |_| {
                    let socket = socket.clone();
                    async move {
                        tokio::net::UnixStream::connect(socket)
                            .await
                            .map(hyper_util::rt::TokioIo::new)
                    }
                }))
                .await
                .expect("connect to provider socket");
            ProviderClient::new(channel)
        })
    }

    /// Runs a future on the harness runtime (for client calls).
    pub fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.runtime.block_on(f)
    }
}

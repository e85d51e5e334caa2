//! Reliability campaign 3 (`reliability/run.sh`): clients that are not the
//! terraform that launched the provider, and hostile messages from one that
//! is. Each counts attempts and what was accepted, prints a `REL|` row and
//! asserts the goal (0 accepted; a diagnostic, no panic, the server alive).
//!
//! - The real provider process (the `bench_provider` example, started as
//!   Terraform starts one, with PLUGIN_CLIENT_CERT): a TLS client with no
//!   certificate, with a self-signed certificate of its own, with the
//!   certificate announced to *another* provider run, and a client speaking
//!   HTTP/2 without TLS. Accepted = the server answered the HTTP/2 preface
//!   with its SETTINGS frame.
//! - Through the gRPC stack (tonic, the limits of `tfplugin::grpc`): a
//!   message above `MAX_MESSAGE_BYTES`, and a config nested 100,000 deep,
//!   each must get an error, and the server must still answer afterwards.
//!
//! `HOSTILE_ROUNDS` (default 3) rounds of the certificate attempts.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use common::{go_plugin_client_config, terraform_like_cert};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tfplugin::diag::Diagnostics;
use tfplugin::proto::tfplugin6 as pb;
use tfplugin::provider::{Ctx, DataSource, Provider, Resource};
use tfplugin::schema::{Attribute, Schema};
use tfplugin::server::{MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE};
use tfplugin::testing::Harness;
use tfplugin::value::{Type, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

mod common;

fn provider_binary() -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args([
            "build",
            "--quiet",
            "--workspace",
            "--example",
            "bench_provider",
        ])
        .status()
        .expect("run cargo to build the bench_provider example");
    assert!(status.success(), "building examples/bench_provider failed");
    let exe = std::env::current_exe().expect("test binary path");
    let profile = exe
        .parent()
        .and_then(|d| d.parent())
        .expect("target/<profile>");
    profile.join("examples").join("bench_provider")
}

/// A provider process started the way Terraform starts one.
struct Plugin {
    child: Child,
    fields: Vec<String>,
}

impl Plugin {
    fn start(bin: &PathBuf, client_cert_pem: &str) -> Plugin {
        let mut child = Command::new(bin)
            .env(MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE)
            .env("PLUGIN_PROTOCOL_VERSIONS", "5,6")
            .env("PLUGIN_CLIENT_CERT", client_cert_pem)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start bench_provider");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("read handshake line");
        let fields = line.trim_end().split('|').map(str::to_string).collect();
        Plugin { child, fields }
    }

    fn socket(&self) -> PathBuf {
        PathBuf::from(&self.fields[3])
    }

    fn cert_der(&self) -> Vec<u8> {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(&self.fields[5])
            .expect("unpadded base64 certificate")
    }
}

impl Drop for Plugin {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0";

/// Whether the server answered the HTTP/2 preface with a SETTINGS frame
/// over TLS with `client` as the client certificate (or none).
async fn tls_accepted(
    plugin: &Plugin,
    client: Option<(CertificateDer<'static>, PrivateKeyDer<'static>)>,
) -> bool {
    let cfg = go_plugin_client_config(plugin.cert_der(), client);
    let Ok(stream) = tokio::net::UnixStream::connect(plugin.socket()).await else {
        return false;
    };
    let Ok(mut tls) = tokio_rustls::TlsConnector::from(Arc::new(cfg))
        .connect(ServerName::try_from("localhost").unwrap(), stream)
        .await
    else {
        return false;
    };
    if tls.write_all(PREFACE).await.is_err() || tls.flush().await.is_err() {
        return false;
    }
    let mut header = [0u8; 9];
    tls.read_exact(&mut header).await.is_ok() && header[3] == 4
}

/// Whether the server answered a cleartext HTTP/2 preface at all.
async fn plaintext_accepted(plugin: &Plugin) -> bool {
    let Ok(mut s) = tokio::net::UnixStream::connect(plugin.socket()).await else {
        return false;
    };
    if s.write_all(PREFACE).await.is_err() {
        return false;
    }
    let mut header = [0u8; 9];
    tokio::time::timeout(std::time::Duration::from_secs(5), s.read_exact(&mut header))
        .await
        .is_ok_and(|r| r.is_ok() && header[3] == 4)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_launching_terraform_gets_in() {
    let rounds: usize = std::env::var("HOSTILE_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(3);
    let bin = provider_binary();
    let (mut attempts, mut accepted) = (0, 0);
    for _ in 0..rounds {
        let (pem, cert, key) = terraform_like_cert();
        let (other_pem, other_cert, other_key) = terraform_like_cert();
        let plugin = Plugin::start(&bin, &pem);
        // Another terraform run's provider, with its own announced cert.
        let _other = Plugin::start(&bin, &other_pem);
        assert!(
            tls_accepted(&plugin, Some((cert, key))).await,
            "the launching terraform's certificate must be accepted"
        );
        let (_, own_cert, own_key) = terraform_like_cert();
        for ok in [
            tls_accepted(&plugin, None).await,
            tls_accepted(&plugin, Some((own_cert, own_key))).await,
            tls_accepted(&plugin, Some((other_cert, other_key))).await,
            plaintext_accepted(&plugin).await,
        ] {
            attempts += 1;
            accepted += usize::from(ok);
        }
    }
    println!(
        "REL|3 hostile provider clients (no cert, self-signed, another run's cert, no TLS; real provider process)|attempts / accepted|{attempts} / {accepted}|{rounds} rounds|{}",
        if accepted == 0 { "ok" } else { "FAIL" }
    );
    assert_eq!(
        accepted, 0,
        "a client that is not the launching terraform got in"
    );
}

struct Min;
struct Item;

impl Provider for Min {
    fn type_name(&self) -> &'static str {
        "hostile"
    }
    fn schema(&self) -> Schema {
        Schema::new(Vec::new())
    }
    fn configure(&self, _ctx: &Ctx, _config: &Value) -> Diagnostics {
        Diagnostics::default()
    }
    fn resources(&self) -> Vec<Arc<dyn Resource>> {
        vec![Arc::new(Item)]
    }
    fn data_sources(&self) -> Vec<Arc<dyn DataSource>> {
        Vec::new()
    }
}

impl Resource for Item {
    fn type_name(&self) -> &'static str {
        "hostile_item"
    }
    fn schema(&self) -> Schema {
        Schema::new(vec![
            Attribute::new("id", Type::String).computed(),
            Attribute::new("rules", Type::Dynamic).optional(),
        ])
    }
    fn create(&self, _ctx: &Ctx, planned: &Value, _config: &Value) -> Result<Value, Diagnostics> {
        Ok(planned.clone())
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

fn validate(config: Vec<u8>) -> pb::validate_resource_config::Request {
    pb::validate_resource_config::Request {
        type_name: "hostile_item".into(),
        config: Some(pb::DynamicValue {
            msgpack: config,
            json: Vec::new(),
        }),
        client_capabilities: None,
    }
}

#[test]
fn oversized_and_deeply_nested_messages_get_an_error() {
    let h = Harness::new("homelab/hostile", Min);
    let client = h.client().max_encoding_message_size(usize::MAX);
    let (mut attempts, mut accepted) = (0, 0);
    let alive = |client: &mut pb::provider_client::ProviderClient<_>| {
        h.block_on(client.get_provider_schema(pb::get_provider_schema::Request {}))
            .is_ok()
    };
    // A config above the server's limit: refused before it is decoded.
    let mut c = client.clone();
    let big = vec![0xc4u8; tfplugin::server::MAX_MESSAGE_BYTES + 1024];
    let r = h.block_on(c.validate_resource_config(validate(big)));
    attempts += 1;
    match &r {
        Ok(_) => accepted += 1,
        Err(status) => assert!(
            status.message().contains("too large")
                || status.code() == tonic::Code::OutOfRange
                || status.code() == tonic::Code::ResourceExhausted,
            "oversized: {status:?}"
        ),
    }
    assert!(
        alive(&mut c),
        "the server answers after an oversized message"
    );
    // An object whose `rules` (dynamic) nests 100,000 arrays deep: the
    // msgpack reader's depth limit makes it an error diagnostic.
    let mut nested = vec![0x81u8, 0xa5];
    nested.extend_from_slice(b"rules");
    nested.push(0x92);
    nested.push(0xa9);
    nested.extend_from_slice(b"\"dynamic\"");
    nested.extend(std::iter::repeat_n(0x91u8, 100_000));
    nested.push(0xc0);
    let r = h.block_on(c.validate_resource_config(validate(nested)));
    attempts += 1;
    match r {
        Ok(resp) => {
            let diags = resp.into_inner().diagnostics;
            if diags.is_empty() {
                accepted += 1;
            }
        }
        Err(status) => assert!(!status.message().is_empty(), "nested: {status:?}"),
    }
    assert!(
        alive(&mut c),
        "the server answers after a deeply nested message"
    );
    println!(
        "REL|3 hostile messages (over MAX_MESSAGE_BYTES, 100,000-deep value)|attempts / accepted|{attempts} / {accepted}|an error each, server alive after|{}",
        if accepted == 0 { "ok" } else { "FAIL" }
    );
    assert_eq!(accepted, 0, "a hostile message was taken as valid");
}

//! The go-plugin contract checked on the real provider process: the
//! `bench_provider` example binary is built and executed exactly as Terraform
//! executes a provider (magic cookie, PLUGIN_PROTOCOL_VERSIONS,
//! PLUGIN_CLIENT_CERT), and the test talks to it over the socket from its
//! handshake line.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{go_plugin_client_config, terraform_like_cert};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tfplugin::proto::plugin::Empty;
use tfplugin::proto::plugin::grpc_controller_client::GrpcControllerClient;
use tfplugin::server::{MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

mod common;

/// Builds the example provider once and returns its path (next to this test
/// binary's `deps/` directory, in `examples/`). `--workspace` resolves
/// features as the workspace's own test build does, so the example links
/// against the dependencies already built; `-p tfplugin` alone resolved a
/// different feature set and compiled a second copy of tokio, axum, aws-lc
/// and the rest in the middle of the test run.
fn provider_binary() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
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
            let profile_dir = exe
                .parent()
                .and_then(|d| d.parent())
                .expect("target/<profile>");
            let bin = profile_dir.join("examples").join("bench_provider");
            assert!(bin.exists(), "{} was not built", bin.display());
            bin
        })
        .clone()
}

/// A started provider process and the fields of its handshake line.
struct Plugin {
    child: Child,
    fields: Vec<String>,
}

impl Plugin {
    fn start(client_cert_pem: Option<&str>) -> Plugin {
        let mut cmd = Command::new(provider_binary());
        cmd.env(MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE)
            .env("PLUGIN_PROTOCOL_VERSIONS", "5,6")
            .env_remove("PLUGIN_CLIENT_CERT")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        if let Some(pem) = client_cert_pem {
            cmd.env("PLUGIN_CLIENT_CERT", pem);
        }
        let mut child = cmd.spawn().expect("start bench_provider");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("read handshake line");
        let fields = line.trim_end().split('|').map(str::to_string).collect();
        Plugin { child, fields }
    }

    fn socket(&self) -> PathBuf {
        assert_eq!(self.fields[2], "unix", "network in {:?}", self.fields);
        PathBuf::from(&self.fields[3])
    }

    fn cert_der(&self) -> Vec<u8> {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(&self.fields[5])
            .expect("unpadded base64 certificate")
    }

    /// Waits up to `limit` for the process to exit by itself (yielding to
    /// the runtime so client connections can finish closing).
    async fn wait_exit(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return Some(status);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        None
    }
}

impl Drop for Plugin {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Connects over TLS with `client` as the client certificate, sends the
/// HTTP/2 connection preface and an empty SETTINGS frame, and returns the
/// first frame header the server answers with. With TLS 1.3 a refused client
/// certificate shows up here, on the first read, as an error or EOF.
async fn h2_greeting(
    plugin: &Plugin,
    client: (CertificateDer<'static>, PrivateKeyDer<'static>),
) -> Result<[u8; 9], String> {
    let cfg = go_plugin_client_config(plugin.cert_der(), Some(client));
    let stream = tokio::net::UnixStream::connect(plugin.socket())
        .await
        .map_err(|e| e.to_string())?;
    let mut tls = tokio_rustls::TlsConnector::from(Arc::new(cfg))
        .connect(ServerName::try_from("localhost").unwrap(), stream)
        .await
        .map_err(|e| e.to_string())?;
    tls.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0")
        .await
        .map_err(|e| e.to_string())?;
    tls.flush().await.map_err(|e| e.to_string())?;
    let mut header = [0u8; 9];
    tls.read_exact(&mut header)
        .await
        .map_err(|e| e.to_string())?;
    Ok(header)
}

#[tokio::test]
async fn automtls_accepts_only_the_announced_client_certificate() {
    let (pem, cert, key) = terraform_like_cert();
    let plugin = Plugin::start(Some(&pem));
    assert_eq!(plugin.fields.len(), 6, "handshake line {:?}", plugin.fields);
    assert_eq!(&plugin.fields[..2], ["1", "6"]);
    assert_eq!(plugin.fields[4], "grpc");
    assert!(!plugin.fields[5].ends_with('='), "no base64 padding");

    let header = h2_greeting(&plugin, (cert, key))
        .await
        .expect("the announced P-521 CA-flagged client certificate is accepted");
    assert_eq!(
        header[3], 4,
        "the server answers with an HTTP/2 SETTINGS frame"
    );

    let (_, other_cert, other_key) = terraform_like_cert();
    let refused = h2_greeting(&plugin, (other_cert, other_key)).await;
    // With TLS 1.3 the client finishes its side before the server has
    // checked the certificate, so the refusal reaches the client either as
    // the server's alert or as the connection the server closed.
    let err = refused.expect_err("a different client certificate must be refused");
    assert!(
        err.contains("alert")
            || err.contains("Broken pipe")
            || err.contains("reset")
            || err.contains("eof")
            || err.contains("EOF"),
        "refused by the server (TLS alert or closed connection), got: {err}"
    );
}

#[tokio::test]
async fn controller_shutdown_ends_the_process_gracefully() {
    let mut plugin = Plugin::start(None);
    assert_eq!(
        plugin.fields.len(),
        5,
        "plaintext handshake line {:?}",
        plugin.fields
    );
    let socket = plugin.socket();
    let channel = tonic::transport::Endpoint::try_from("http://plugin.local")
        .unwrap()
        .connect_with_connector(tower::service_fn(move |_| {
            let socket = socket.clone();
            async move {
                tokio::net::UnixStream::connect(socket)
                    .await
                    .map(hyper_util::rt::TokioIo::new)
            }
        }))
        .await
        .expect("connect to the plugin socket");
    // Like go-plugin's client: call Shutdown, then close the connection and
    // wait for the process to exit (go-plugin force-kills after 2 s).
    let mut controller = GrpcControllerClient::new(channel);
    controller
        .shutdown(Empty {})
        .await
        .expect("GRPCController.Shutdown answered");
    drop(controller);
    let status = plugin
        .wait_exit(Duration::from_secs(2))
        .await
        .expect("provider exits after GRPCController.Shutdown");
    assert!(status.success(), "graceful exit, got {status}");
    assert!(
        !plugin.socket().exists(),
        "socket removed with its temp dir"
    );
}

#[test]
fn run_by_hand_exits_1_with_a_human_message() {
    let out = Command::new(provider_binary())
        .env_remove(MAGIC_COOKIE_KEY)
        .env_remove("PLUGIN_CLIENT_CERT")
        .stdin(Stdio::null())
        .output()
        .expect("run bench_provider");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        out.stdout.is_empty(),
        "nothing on stdout without the cookie"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("Terraform provider plugin")
            && stderr.contains("not meant to be run by hand"),
        "{stderr}"
    );
}

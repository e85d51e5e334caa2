//! Process bootstrap: the go-plugin handshake Terraform expects.
//!
//! Terraform starts the provider with a magic cookie in the environment,
//! reads ONE handshake line from stdout (`1|6|unix|<socket>|grpc|<cert>`),
//! then speaks gRPC over that socket. With `PLUGIN_CLIENT_CERT` set (AutoMTLS)
//! we answer with TLS using a fresh self-signed certificate (sent in the
//! handshake line) and accept exactly the client certificate Terraform gave
//! us. In debug/reattach mode (tests) the socket is plaintext.

mod tls;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use tokio::net::UnixListener;
use tokio::sync::watch;
use tokio_stream::wrappers::UnixListenerStream;
use tonic::transport::Server;

use crate::proto::plugin::Empty;
use crate::proto::plugin::grpc_controller_server::{GrpcController, GrpcControllerServer};
use crate::proto::tfplugin6::provider_server::{Provider as PbProvider, ProviderServer};

pub use tls::{PinnedClientVerifier, ServerIdentity};

/// The go-plugin cookie Terraform sets for provider processes.
pub const MAGIC_COOKIE_KEY: &str = "TF_PLUGIN_MAGIC_COOKIE";
pub const MAGIC_COOKIE_VALUE: &str =
    "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2";
/// gRPC message limit both ways: large states must not hit tonic's 4 MiB default.
pub const MAX_MESSAGE_BYTES: usize = 256 << 20;

/// Runs a provider process to completion: cookie check, listener, optional
/// AutoMTLS, handshake line, gRPC until Terraform calls Shutdown.
pub fn run<S: PbProvider>(svc: ProviderServer<S>) -> ExitCode {
    crate::log::install_panic_hook();
    if std::env::var(MAGIC_COOKIE_KEY).as_deref() != Ok(MAGIC_COOKIE_VALUE) {
        eprintln!(
            "This program is a Terraform provider plugin. Terraform starts it; it is not meant to be run by hand.\n\
             Install it in a filesystem mirror (scripts/providers-install.sh) and run `terraform init`."
        );
        return ExitCode::from(1);
    }
    let versions = std::env::var("PLUGIN_PROTOCOL_VERSIONS").unwrap_or_else(|_| "6".into());
    if !versions.split(',').any(|v| v.trim() == "6") {
        eprintln!(
            "This provider speaks plugin protocol 6; Terraform offered {versions}. Use Terraform >= 1.0."
        );
        return ExitCode::from(1);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(serve_process(svc)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            crate::log::error(&format!("provider server failed: {e}"));
            ExitCode::from(1)
        }
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

async fn serve_process<S: PbProvider>(svc: ProviderServer<S>) -> Result<(), BoxError> {
    let dir = tempfile::Builder::new().prefix("tfplugin").tempdir()?;
    let socket = dir.path().join("plugin.sock");
    let listener = UnixListener::bind(&socket)?;
    let (tx, rx) = watch::channel(false);
    let router = Server::builder()
        .add_service(svc)
        .add_service(GrpcControllerServer::new(Controller { shutdown: tx }));
    let shutdown = wait_true(rx);
    match std::env::var("PLUGIN_CLIENT_CERT") {
        Ok(pem) if !pem.trim().is_empty() => {
            let identity = ServerIdentity::generate()?;
            let acceptor = identity.acceptor(pem.as_bytes())?;
            handshake_line(&socket, Some(&identity.cert_base64()))?;
            let incoming = tls::accept_stream(UnixListenerStream::new(listener), acceptor);
            router
                .serve_with_incoming_shutdown(incoming, shutdown)
                .await?;
        }
        _ => {
            handshake_line(&socket, None)?;
            router
                .serve_with_incoming_shutdown(UnixListenerStream::new(listener), shutdown)
                .await?;
        }
    }
    drop(dir);
    Ok(())
}

fn handshake_line(socket: &std::path::Path, cert: Option<&str>) -> std::io::Result<()> {
    let mut line = format!("1|6|unix|{}|grpc", socket.display());
    if let Some(c) = cert {
        line.push('|');
        line.push_str(c);
    }
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")?;
    out.flush()
}

async fn wait_true(mut rx: watch::Receiver<bool>) {
    while !*rx.borrow() {
        if rx.changed().await.is_err() {
            return;
        }
    }
}

/// go-plugin's controller: Shutdown ends the process gracefully.
struct Controller {
    shutdown: watch::Sender<bool>,
}

#[tonic::async_trait]
impl GrpcController for Controller {
    async fn shutdown(
        &self,
        _req: tonic::Request<Empty>,
    ) -> Result<tonic::Response<Empty>, tonic::Status> {
        let _ = self.shutdown.send(true);
        Ok(tonic::Response::new(Empty {}))
    }
}

/// A provider served in-process on a plaintext unix socket, for
/// `TF_REATTACH_PROVIDERS` (debug mode and the test harness).
pub struct ReattachServer {
    socket: PathBuf,
    shutdown: watch::Sender<bool>,
    _dir: tempfile::TempDir,
}

impl ReattachServer {
    /// Starts serving on `runtime`; returns once the socket accepts.
    pub fn start<S: PbProvider>(
        runtime: &tokio::runtime::Handle,
        svc: ProviderServer<S>,
    ) -> std::io::Result<ReattachServer> {
        let dir = tempfile::Builder::new()
            .prefix("tfplugin-reattach")
            .tempdir()?;
        let socket = dir.path().join("plugin.sock");
        let listener = {
            let _guard = runtime.enter();
            UnixListener::bind(&socket)?
        };
        let (tx, rx) = watch::channel(false);
        let router = Server::builder()
            .add_service(svc)
            .add_service(GrpcControllerServer::new(Controller {
                shutdown: tx.clone(),
            }));
        runtime.spawn(async move {
            if let Err(e) = router
                .serve_with_incoming_shutdown(UnixListenerStream::new(listener), wait_true(rx))
                .await
            {
                crate::log::error(&format!("reattach server failed: {e}"));
            }
        });
        Ok(ReattachServer {
            socket,
            shutdown: tx,
            _dir: dir,
        })
    }

    pub fn socket(&self) -> &std::path::Path {
        &self.socket
    }

    /// The `TF_REATTACH_PROVIDERS` value for provider address `source`
    /// (e.g. `registry.terraform.io/homelab/goldmane-edges`).
    pub fn reattach_json(&self, source: &str) -> String {
        serde_json::json!({
            source: {
                "Protocol": "grpc",
                "ProtocolVersion": 6,
                "Pid": std::process::id(),
                "Test": true,
                "Addr": { "Network": "unix", "String": self.socket.display().to_string() }
            }
        })
        .to_string()
    }
}

impl Drop for ReattachServer {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}

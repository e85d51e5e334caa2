//! AutoMTLS with real client authentication: the server accepts exactly the
//! certificate announced in PLUGIN_CLIENT_CERT — a CA-flagged, self-signed
//! P-521 certificate like the one Terraform generates — and refuses any
//! other client certificate, or none.

use std::sync::Arc;

use common::{go_plugin_client_config, terraform_like_cert};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tfplugin::server::ServerIdentity;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

mod common;

/// Runs one TLS handshake + echo between our acceptor (pinned to
/// `announced_pem`) and a client presenting `client` (or no certificate).
async fn handshake(
    identity: &ServerIdentity,
    announced_pem: &str,
    client: Option<(CertificateDer<'static>, PrivateKeyDer<'static>)>,
) -> Result<(), String> {
    let acceptor = identity
        .acceptor(announced_pem.as_bytes())
        .map_err(|e| e.to_string())?;
    let cfg = go_plugin_client_config(identity.cert_der().to_vec(), client);
    let connector = tokio_rustls::TlsConnector::from(Arc::new(cfg));
    let (a, b) = tokio::net::UnixStream::pair().unwrap();
    let server = tokio::spawn(async move {
        let mut tls = acceptor.accept(a).await.map_err(|e| e.to_string())?;
        let mut buf = [0u8; 4];
        tls.read_exact(&mut buf).await.map_err(|e| e.to_string())?;
        tls.write_all(&buf).await.map_err(|e| e.to_string())?;
        tls.flush().await.map_err(|e| e.to_string())?;
        Ok::<_, String>(tls.get_ref().1.alpn_protocol().map(<[u8]>::to_vec))
    });
    let client_side = async {
        let mut tls = connector
            .connect(ServerName::try_from("localhost").unwrap(), b)
            .await
            .map_err(|e| e.to_string())?;
        tls.write_all(b"ping").await.map_err(|e| e.to_string())?;
        let mut buf = [0u8; 4];
        tls.read_exact(&mut buf).await.map_err(|e| e.to_string())?;
        Ok::<_, String>(buf)
    };
    let client_result = client_side.await;
    let server_result = server.await.map_err(|e| e.to_string())?;
    let alpn = server_result?;
    assert_eq!(
        alpn.as_deref(),
        Some(&b"h2"[..]),
        "grpc-go requires h2 by ALPN"
    );
    assert_eq!(client_result?, *b"ping");
    Ok(())
}

#[tokio::test]
async fn only_the_announced_client_certificate_is_accepted() {
    let identity = ServerIdentity::generate().unwrap();
    let (pem, cert, key) = terraform_like_cert();
    handshake(&identity, &pem, Some((cert, key)))
        .await
        .expect("the pinned CA-flagged P-521 client cert is accepted");

    let (_, other_cert, other_key) = terraform_like_cert();
    let err = handshake(&identity, &pem, Some((other_cert, other_key)))
        .await
        .expect_err("a different client certificate is refused");
    assert!(!err.is_empty());

    assert!(
        handshake(&identity, &pem, None).await.is_err(),
        "no client certificate is refused"
    );
}

#[test]
fn handshake_certificate_is_unpadded_base64_der() {
    use base64::Engine;
    let identity = ServerIdentity::generate().unwrap();
    let b64 = identity.cert_base64();
    assert!(!b64.ends_with('='));
    let der = base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(&b64)
        .unwrap();
    assert_eq!(der, identity.cert_der());
}

#[test]
fn a_garbage_client_cert_is_a_clear_error() {
    let identity = ServerIdentity::generate().unwrap();
    let err = identity
        .acceptor(b"not a pem")
        .err()
        .expect("refused")
        .to_string();
    assert!(err.contains("PLUGIN_CLIENT_CERT"), "{err}");
}

#[test]
fn run_by_hand_exits_1_with_a_human_message() {
    struct Nothing;
    impl tfplugin::provider::Provider for Nothing {
        fn type_name(&self) -> &'static str {
            "nothing"
        }
        fn schema(&self) -> tfplugin::schema::Schema {
            tfplugin::schema::Schema::new(Vec::new())
        }
        fn configure(
            &self,
            _: &tfplugin::provider::Ctx,
            _: &tfplugin::value::Value,
        ) -> tfplugin::diag::Diagnostics {
            tfplugin::diag::Diagnostics::default()
        }
        fn resources(&self) -> Vec<Arc<dyn tfplugin::provider::Resource>> {
            Vec::new()
        }
        fn data_sources(&self) -> Vec<Arc<dyn tfplugin::provider::DataSource>> {
            Vec::new()
        }
    }
    assert!(std::env::var(tfplugin::server::MAGIC_COOKIE_KEY).is_err());
    let code = tfplugin::server::run(tfplugin::grpc::into_service(Nothing));
    assert_eq!(code, std::process::ExitCode::from(1));
}

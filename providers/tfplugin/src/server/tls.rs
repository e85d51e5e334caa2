//! AutoMTLS: our server identity and the pinned client verifier.
//!
//! Terraform generates a self-signed, CA-flagged P-521 certificate for
//! itself and passes it in `PLUGIN_CLIENT_CERT`; it trusts exactly the
//! certificate we put in the handshake line. Stock webpki client
//! verification rejects a CA certificate used as an end entity, so we pin:
//! the client must present byte-for-byte the certificate Terraform announced,
//! and must prove possession of its key (the TLS handshake signature is
//! still verified against that certificate).

use std::sync::Arc;

use base64::Engine;
use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, SignatureScheme};
use tokio::net::UnixStream;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::{ReceiverStream, UnixListenerStream};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Our certificate and key for one process.
pub struct ServerIdentity {
    cert: CertificateDer<'static>,
    key: PrivatePkcs8KeyDer<'static>,
}

impl ServerIdentity {
    /// A fresh self-signed ECDSA P-256 certificate for `localhost` (the name
    /// go-plugin verifies), usable as its own root.
    pub fn generate() -> Result<ServerIdentity, BoxError> {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
        let mut params = rcgen::CertificateParams::new(vec!["localhost".to_string()])?;
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "localhost");
        params
            .distinguished_name
            .push(rcgen::DnType::OrganizationName, "homelab tfplugin");
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.key_usages = vec![
            rcgen::KeyUsagePurpose::DigitalSignature,
            rcgen::KeyUsagePurpose::KeyEncipherment,
            rcgen::KeyUsagePurpose::KeyCertSign,
        ];
        params.extended_key_usages = vec![
            rcgen::ExtendedKeyUsagePurpose::ServerAuth,
            rcgen::ExtendedKeyUsagePurpose::ClientAuth,
        ];
        let cert = params.self_signed(&key)?;
        Ok(ServerIdentity {
            cert: cert.der().clone(),
            key: PrivatePkcs8KeyDer::from(key.serialize_der()),
        })
    }

    pub fn cert_der(&self) -> &[u8] {
        self.cert.as_ref()
    }

    /// The certificate as go-plugin wants it in the handshake line:
    /// standard base64 of the DER, without padding.
    pub fn cert_base64(&self) -> String {
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(self.cert.as_ref())
    }

    /// A TLS acceptor that requires exactly the client certificate in
    /// `client_cert_pem`, and offers `h2` by ALPN (grpc-go insists on it).
    pub fn acceptor(&self, client_cert_pem: &[u8]) -> Result<TlsAcceptor, BoxError> {
        let client = CertificateDer::from_pem_slice(client_cert_pem)
            .map_err(|e| format!("PLUGIN_CLIENT_CERT is not a PEM certificate: {e}"))?;
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let verifier = Arc::new(PinnedClientVerifier {
            pinned: client,
            provider: provider.clone(),
        });
        let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_client_cert_verifier(verifier)
            .with_single_cert(
                vec![self.cert.clone()],
                PrivateKeyDer::Pkcs8(self.key.clone_key()),
            )?;
        cfg.alpn_protocols = vec![b"h2".to_vec()];
        Ok(TlsAcceptor::from(Arc::new(cfg)))
    }
}

/// Accepts exactly one client certificate.
#[derive(Debug)]
pub struct PinnedClientVerifier {
    pinned: CertificateDer<'static>,
    provider: Arc<CryptoProvider>,
}

impl ClientCertVerifier for PinnedClientVerifier {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        if end_entity.as_ref() == self.pinned.as_ref() {
            Ok(ClientCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::ApplicationVerificationFailure,
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// Turns accepted unix connections into completed TLS streams; failed
/// handshakes (a wrong client certificate) are logged and dropped without
/// disturbing other connections.
pub(crate) fn accept_stream(
    listener: UnixListenerStream,
    acceptor: TlsAcceptor,
) -> ReceiverStream<Result<TlsStream<UnixStream>, std::io::Error>> {
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    tokio::spawn(async move {
        let mut listener = listener;
        while let Some(conn) = listener.next().await {
            let Ok(conn) = conn else { continue };
            let acceptor = acceptor.clone();
            let tx = tx.clone();
            tokio::spawn(async move {
                match acceptor.accept(conn).await {
                    Ok(tls) => {
                        let _ = tx.send(Ok(tls)).await;
                    }
                    Err(e) => crate::log::warn(&format!("refused a TLS connection: {e}")),
                }
            });
        }
    });
    ReceiverStream::new(rx)
}

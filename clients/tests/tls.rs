//! The REST client's custom CA against a real TLS server on a local port
//! whose certificate a private CA signed: trusted with that CA, refused
//! without it (and with another CA), before any request is sent.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use infra_clients::rest::{Auth, Config, Request, RestClient, RestError};
use reqwest::Method;
use rustls::pki_types::PrivateKeyDer;

/// A CA (its PEM) and a server certificate + key for 127.0.0.1 it signed.
fn pki() -> (String, rustls::pki_types::CertificateDer<'static>, Vec<u8>) {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "infra-clients test CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let key = rcgen::KeyPair::generate().unwrap();
    let params = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()]).unwrap();
    let cert = params.signed_by(&key, &issuer).unwrap();
    (ca.pem(), cert.der().clone(), key.serialize_der())
}

/// Serves `{"tls": true}` over TLS; counts requests that arrived.
fn serve(
    cert: rustls::pki_types::CertificateDer<'static>,
    key: Vec<u8>,
) -> (String, Arc<AtomicUsize>) {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = Arc::new(
        rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![cert], PrivateKeyDer::try_from(key).unwrap())
            .unwrap(),
    );
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("https://{}", listener.local_addr().unwrap());
    let requests = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&requests);
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { return };
            let tls = rustls::ServerConnection::new(Arc::clone(&config)).unwrap();
            let mut stream = rustls::StreamOwned::new(tls, conn);
            let mut reader = BufReader::new(&mut stream);
            let mut line = String::new();
            // The request head; a refused handshake fails here.
            let mut ok = false;
            while reader.read_line(&mut line).is_ok_and(|n| n > 0) {
                if line == "\r\n" {
                    ok = true;
                    break;
                }
                line.clear();
            }
            if !ok {
                continue;
            }
            count.fetch_add(1, Ordering::SeqCst);
            let body = r#"{"tls": true}"#;
            let _ = stream.write_all(
                format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                )
                .as_bytes(),
            );
            stream.conn.send_close_notify();
            let _ = stream.flush();
        }
    });
    (url, requests)
}

fn client(url: &str, ca_pem: Option<&str>) -> RestClient {
    let mut config = Config::new(url, Auth::Bearer("tls-token".into()));
    config.ca_pem = ca_pem.map(|p| p.as_bytes().to_vec());
    config.timeout = Duration::from_secs(10);
    config.backoff.retries = 0;
    RestClient::new(&config).unwrap()
}

#[test]
fn a_server_signed_by_the_configured_ca_is_trusted() {
    let (ca, cert, key) = pki();
    let (url, requests) = serve(cert, key);
    let answer = client(&url, Some(&ca))
        .send(&Request::new(Method::GET, "/"), "the TLS server")
        .unwrap();
    assert_eq!(answer["tls"], true);
    assert_eq!(requests.load(Ordering::SeqCst), 1);
}

#[test]
fn a_server_signed_by_an_unknown_ca_is_refused_before_any_request() {
    let (_, cert, key) = pki();
    let (other_ca, _, _) = pki();
    let (url, requests) = serve(cert, key);
    for ca in [None, Some(other_ca.as_str())] {
        let err = client(&url, ca)
            .send(&Request::new(Method::GET, "/"), "the TLS server")
            .unwrap_err();
        assert!(matches!(err, RestError::Transport { .. }), "{err:?}");
        assert!(!err.to_string().contains("tls-token"), "{err}");
    }
    assert_eq!(requests.load(Ordering::SeqCst), 0);
}

//! Automations served over https: the automations' client (its own rustls
//! configuration, src/upstream_client.rs) trusts what the identity
//! providers' client trusts, `PORTCULLIS_CA_BUNDLE` included, and refuses
//! a certificate from an authority nobody configured.

use crate::support::company_ca::company_ca;
use bytes::Bytes;
use portcullis_server::outbound::TrustConfig;
use portcullis_server::upstream_client::{Call, CallError, UpstreamClient};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// An automation on https://127.0.0.1:port, with a certificate the
/// company CA signed; answers every request with a kickoff id.
async fn https_automation(leaf: &openssl::x509::X509, key: &openssl::pkey::PKey<openssl::pkey::Private>) -> url::Url {
    use rustls::pki_types::{CertificateDer, PrivatePkcs8KeyDer};
    let cert = CertificateDer::from(leaf.to_der().unwrap());
    let key = PrivatePkcs8KeyDer::from(key.private_key_to_pkcs8().unwrap());
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert], key.into())
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = url::Url::parse(&format!("https://{}/kickoff", listener.local_addr().unwrap())).unwrap();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else { return };
                let mut buf = Vec::new();
                loop {
                    let mut chunk = [0u8; 4096];
                    match tls.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                    // The client sends `{"inputs":{}}` after the head.
                    if buf.ends_with(b"{\"inputs\":{}}") {
                        buf.clear();
                        let answer = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 19\r\n\r\n{\"kickoff_id\":\"k1\"}";
                        if tls.write_all(answer.as_bytes()).await.is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    url
}

fn kickoff(url: &url::Url) -> Call<'_> {
    Call { method: hyper::Method::POST, url, token: "t0ken", body: Some(Bytes::from_static(b"{\"inputs\":{}}")), max_body: 4096 }
}

#[tokio::test]
async fn an_https_automation_is_called_when_its_authority_is_trusted_and_refused_otherwise() {
    let (ca, leaf, key) = company_ca();
    let url = https_automation(&leaf, &key).await;
    let dir = tempfile_dir();
    let bundle = dir.join("company-ca.pem");
    std::fs::write(&bundle, ca.to_pem().unwrap()).unwrap();

    let trusted = UpstreamClient::new(&TrustConfig::with_bundle(&bundle).unwrap(), Duration::from_secs(2), Duration::from_secs(5), 8).unwrap();
    for _ in 0..3 {
        let a = trusted.call(kickoff(&url)).await.unwrap();
        assert_eq!(a.status, 200);
        assert_eq!(&a.body[..], b"{\"kickoff_id\":\"k1\"}");
    }

    let untrusting = UpstreamClient::new(&TrustConfig::default(), Duration::from_secs(2), Duration::from_secs(5), 8).unwrap();
    match untrusting.call(kickoff(&url)).await {
        Err(CallError::Connect(why)) => assert!(why.contains("TLS handshake") && why.to_lowercase().contains("certificate"), "{why}"),
        other => panic!("an unknown authority was accepted: {other:?}"),
    }
    let _ = std::fs::remove_dir_all(dir);
}

fn tempfile_dir() -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("portcullis-automation-tls-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

//! A SAML IdP that misbehaves on purpose: it builds Responses with whatever
//! the test wants (wrong audience, expired, SHA-1, two assertions...) and
//! signs them for real with libxmlsec1 (through `samael`), with the test
//! IdP's key (the one its metadata names) or with a stranger's key.

#![allow(dead_code)]

use super::saml_peer::Browser;
use super::{Db, Options, TestServer};
use base64::Engine;
use std::path::PathBuf;

pub const RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
pub const RSA_SHA1: &str = "http://www.w3.org/2000/09/xmldsig#rsa-sha1";
pub const SHA256: &str = "http://www.w3.org/2001/04/xmlenc#sha256";
pub const SHA1: &str = "http://www.w3.org/2000/09/xmldsig#sha1";

/// A signing identity: private key (DER) and certificate (base64 DER).
pub struct Signer {
    pub key_der: Vec<u8>,
    pub cert_b64: String,
}

fn cert_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/saml-idp/cert")
}

impl Signer {
    /// The test IdP's own key pair (`tests/saml-idp/cert`), as in its metadata.
    pub fn idp() -> Signer {
        let key = openssl::pkey::PKey::private_key_from_pem(&std::fs::read(cert_dir().join("idp.key")).unwrap()).unwrap();
        let cert = openssl::x509::X509::from_pem(&std::fs::read(cert_dir().join("idp.crt")).unwrap()).unwrap();
        Signer { key_der: key.private_key_to_der().unwrap(), cert_b64: base64::engine::general_purpose::STANDARD.encode(cert.to_der().unwrap()) }
    }

    /// A key pair nobody trusts, with a self-signed certificate.
    pub fn stranger() -> Signer {
        use openssl::x509::{X509NameBuilder, X509};
        let key = openssl::pkey::PKey::from_rsa(openssl::rsa::Rsa::generate(2048).unwrap()).unwrap();
        let mut name = X509NameBuilder::new().unwrap();
        name.append_entry_by_text("CN", "Portcullis test SAML IdP").unwrap();
        let name = name.build();
        let mut b = X509::builder().unwrap();
        b.set_version(2).unwrap();
        b.set_subject_name(&name).unwrap();
        b.set_issuer_name(&name).unwrap();
        b.set_pubkey(&key).unwrap();
        let (from, until) = (openssl::asn1::Asn1Time::days_from_now(0).unwrap(), openssl::asn1::Asn1Time::days_from_now(30).unwrap());
        b.set_not_before(&from).unwrap();
        b.set_not_after(&until).unwrap();
        b.sign(&key, openssl::hash::MessageDigest::sha256()).unwrap();
        let cert = b.build();
        Signer { key_der: key.private_key_to_der().unwrap(), cert_b64: base64::engine::general_purpose::STANDARD.encode(cert.to_der().unwrap()) }
    }

    /// The IdP metadata that pins this signer's certificate.
    pub fn metadata(&self, entity_id: &str, sso_url: &str) -> String {
        metadata_pinning(entity_id, sso_url, &[self])
    }
}

/// IdP metadata pinning several signers' certificates (a rollover); its
/// single logout service is [`slo_url`] of `sso_url`.
pub fn metadata_pinning(entity_id: &str, sso_url: &str, signers: &[&Signer]) -> String {
    let slo_url = slo_url(sso_url);
    let keys: String = signers
        .iter()
        .map(|s| format!("<md:KeyDescriptor use=\"signing\"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>", s.cert_b64))
        .collect();
    format!(
            "<?xml version=\"1.0\"?>\n<md:EntityDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\" entityID=\"{entity_id}\">\
             <md:IDPSSODescriptor protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:2.0:protocol\">{keys}\
             <md:SingleLogoutService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect\" Location=\"{slo_url}\"/>\
             <md:SingleSignOnService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect\" Location=\"{sso_url}\"/>\
             </md:IDPSSODescriptor></md:EntityDescriptor>"
    )
}

/// Everything a Response says, valid by default for the given SP.
#[derive(Clone)]
pub struct Claims {
    pub response_id: String,
    pub assertion_id: String,
    pub in_response_to: Option<String>,
    pub destination: String,
    pub issuer: String,
    pub audience: String,
    pub recipient: String,
    pub name_id: String,
    /// The AuthnStatement's SessionIndex (what single logout names).
    pub session_index: String,
    pub email: String,
    pub roles: Vec<String>,
    /// Seconds relative to now.
    pub not_before: i64,
    pub not_on_or_after: i64,
    pub signature_alg: &'static str,
    pub digest_alg: &'static str,
    /// The attribute names for e-mail and roles (`mail`, `role` by default;
    /// Entra ID uses claim URIs), and any further attributes.
    pub email_attribute: &'static str,
    pub role_attribute: &'static str,
    pub extra_attributes: Vec<(&'static str, String)>,
}

fn random_id() -> String {
    format!("_{}", uuid::Uuid::new_v4().simple())
}

fn time(offset_secs: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::seconds(offset_secs)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

impl Claims {
    pub fn new(issuer: &str, acs: &str, audience: &str, in_response_to: &str) -> Claims {
        Claims {
            response_id: random_id(),
            assertion_id: random_id(),
            in_response_to: Some(in_response_to.to_owned()),
            destination: acs.to_owned(),
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
            recipient: acs.to_owned(),
            name_id: "mallory-subject".into(),
            session_index: "_session".into(),
            email: "mallory@example.test".into(),
            roles: vec!["member".into()],
            not_before: -60,
            not_on_or_after: 300,
            signature_alg: RSA_SHA256,
            digest_alg: SHA256,
            email_attribute: "mail",
            role_attribute: "role",
            extra_attributes: Vec::new(),
        }
    }
}

fn signature_template(reference: &str, c: &Claims, cert: &str) -> String {
    format!(
        "<ds:Signature xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"><ds:SignedInfo>\
         <ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/>\
         <ds:SignatureMethod Algorithm=\"{sig}\"/>\
         <ds:Reference URI=\"#{reference}\"><ds:Transforms>\
         <ds:Transform Algorithm=\"http://www.w3.org/2000/09/xmldsig#enveloped-signature\"/>\
         <ds:Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/></ds:Transforms>\
         <ds:DigestMethod Algorithm=\"{digest}\"/><ds:DigestValue></ds:DigestValue></ds:Reference></ds:SignedInfo>\
         <ds:SignatureValue></ds:SignatureValue>\
         <ds:KeyInfo><ds:X509Data><ds:X509Certificate>{cert}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></ds:Signature>",
        sig = c.signature_alg,
        digest = c.digest_alg,
    )
}

/// The Assertion element; `signature` goes right after its Issuer.
pub fn assertion(c: &Claims, signature: &str) -> String {
    let irt = c.in_response_to.as_ref().map(|i| format!(" InResponseTo=\"{i}\"")).unwrap_or_default();
    let roles: String = c.roles.iter().map(|r| format!("<saml:AttributeValue>{r}</saml:AttributeValue>")).collect();
    let extra: String = c.extra_attributes.iter().map(|(n, v)| format!("<saml:Attribute Name=\"{n}\"><saml:AttributeValue>{v}</saml:AttributeValue></saml:Attribute>")).collect();
    format!(
        "<saml:Assertion xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" ID=\"{aid}\" Version=\"2.0\" IssueInstant=\"{now}\">\
         <saml:Issuer>{issuer}</saml:Issuer>{signature}\
         <saml:Subject><saml:NameID Format=\"urn:oasis:names:tc:SAML:2.0:nameid-format:persistent\">{name_id}</saml:NameID>\
         <saml:SubjectConfirmation Method=\"urn:oasis:names:tc:SAML:2.0:cm:bearer\">\
         <saml:SubjectConfirmationData NotOnOrAfter=\"{noa}\" Recipient=\"{recipient}\"{irt}/></saml:SubjectConfirmation></saml:Subject>\
         <saml:Conditions NotBefore=\"{nb}\" NotOnOrAfter=\"{noa}\"><saml:AudienceRestriction><saml:Audience>{aud}</saml:Audience></saml:AudienceRestriction></saml:Conditions>\
         <saml:AuthnStatement AuthnInstant=\"{now}\" SessionIndex=\"{session_index}\"><saml:AuthnContext>\
         <saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:Password</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>\
         <saml:AttributeStatement>\
         <saml:Attribute Name=\"{email_attr}\"><saml:AttributeValue>{email}</saml:AttributeValue></saml:Attribute>\
         <saml:Attribute Name=\"{role_attr}\">{roles}</saml:Attribute>{extra}</saml:AttributeStatement></saml:Assertion>",
        aid = c.assertion_id,
        now = time(0),
        issuer = c.issuer,
        name_id = c.name_id,
        session_index = c.session_index,
        noa = time(c.not_on_or_after),
        nb = time(c.not_before),
        recipient = c.recipient,
        aud = c.audience,
        email = c.email,
        email_attr = c.email_attribute,
        role_attr = c.role_attribute,
    )
}

/// The Response around `inner` (one or more assertions, or anything else).
pub fn response(c: &Claims, signature: &str, inner: &str) -> String {
    let irt = c.in_response_to.as_ref().map(|i| format!(" InResponseTo=\"{i}\"")).unwrap_or_default();
    format!(
        "<samlp:Response xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" \
         ID=\"{rid}\" Version=\"2.0\" IssueInstant=\"{now}\" Destination=\"{dest}\"{irt}>\
         <saml:Issuer>{issuer}</saml:Issuer>{signature}\
         <samlp:Status><samlp:StatusCode Value=\"urn:oasis:names:tc:SAML:2.0:status:Success\"/></samlp:Status>{inner}</samlp:Response>",
        rid = c.response_id,
        now = time(0),
        dest = c.destination,
        issuer = c.issuer,
    )
}

/// Signs the first empty signature template of `xml` with libxmlsec1.
pub fn sign(xml: &str, signer: &Signer) -> String {
    use samael::crypto::CryptoProvider;
    samael::crypto::Crypto::sign_xml(xml, &signer.key_der).expect("xmlsec signs the template")
}

/// A Response with a signed Assertion, and (when `sign_response`) the
/// Response signed around it, as real IdPs send.
pub fn signed_response(c: &Claims, signer: &Signer, sign_response: bool) -> String {
    signed_response_edited(c, signer, sign_response, |a| a, |r| r)
}

/// [`signed_response`] with the assertion and the Response changed as
/// text before they are signed (parts SAML requires, left out).
pub fn signed_response_edited(c: &Claims, signer: &Signer, sign_response: bool, edit_assertion: impl Fn(String) -> String, edit_response: impl Fn(String) -> String) -> String {
    let a = edit_assertion(assertion(c, &signature_template(&c.assertion_id, c, &signer.cert_b64)));
    let xml = sign(&edit_response(response(c, "", &a)), signer);
    if !sign_response {
        return xml;
    }
    // Second pass: a template for the Response, right after its Issuer.
    let at = xml.find("</saml:Issuer>").expect("the Response's Issuer") + "</saml:Issuer>".len();
    let with_template = format!("{}{}{}", &xml[..at], signature_template(&c.response_id, c, &signer.cert_b64), &xml[at..]);
    sign(&with_template, signer)
}

pub fn b64(xml: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(xml.as_bytes())
}

/// The ID of the AuthnRequest in a redirect URL (SAMLRequest, deflated).
pub fn request_id(redirect: &str) -> String {
    use std::io::Read;
    let url = reqwest::Url::parse(redirect).unwrap();
    let encoded = url.query_pairs().find(|(k, _)| k == "SAMLRequest").expect("SAMLRequest").1.into_owned();
    let raw = base64::engine::general_purpose::STANDARD.decode(encoded).unwrap();
    let mut xml = String::new();
    flate2::read::DeflateDecoder::new(raw.as_slice()).read_to_string(&mut xml).unwrap();
    xml.split(" ID=\"").nth(1).unwrap().split('"').next().unwrap().to_owned()
}

/// The forged IdP's single logout service, next to its sign-in service.
pub fn slo_url(sso_url: &str) -> String {
    format!("{}/slo", sso_url.trim_end_matches("/sso"))
}

/// A LogoutRequest (Core §3.7.1) from `issuer` to `destination`, issued
/// `issued_secs` from now; without SessionIndex when `session_index` is empty.
pub fn logout_request(issuer: &str, destination: &str, name_id: &str, session_index: &str, issued_secs: i64) -> String {
    format!(
        "<samlp:LogoutRequest xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" \
         ID=\"{id}\" Version=\"2.0\" IssueInstant=\"{at}\" Destination=\"{destination}\"><saml:Issuer>{issuer}</saml:Issuer>\
         <saml:NameID Format=\"urn:oasis:names:tc:SAML:2.0:nameid-format:persistent\">{name_id}</saml:NameID>{index}</samlp:LogoutRequest>",
        id = random_id(),
        at = time(issued_secs),
        index = if session_index.is_empty() { String::new() } else { format!("<samlp:SessionIndex>{session_index}</samlp:SessionIndex>") },
    )
}

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Raw DEFLATE then base64, as the HTTP-Redirect binding carries messages.
pub fn deflate_b64(bytes: &[u8]) -> String {
    use std::io::Write;
    let mut d = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    d.write_all(bytes).unwrap();
    base64::engine::general_purpose::STANDARD.encode(d.finish().unwrap())
}

/// A LogoutResponse (Core §3.7.2) from `issuer` to `destination`.
pub fn logout_response(issuer: &str, destination: &str, in_response_to: &str, status: &str) -> String {
    format!(
        "<samlp:LogoutResponse xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" \
         ID=\"{id}\" Version=\"2.0\" IssueInstant=\"{at}\" Destination=\"{destination}\" InResponseTo=\"{in_response_to}\">\
         <saml:Issuer>{issuer}</saml:Issuer><samlp:Status><samlp:StatusCode Value=\"{status}\"/></samlp:Status></samlp:LogoutResponse>",
        id = random_id(),
        at = time(0),
    )
}

/// The query string carrying `xml` as `SAMLRequest` over HTTP-Redirect
/// (Bindings §3.4.4.1), signed by `signer` with `sig_alg` (RSA_SHA256 or
/// RSA_SHA1), or unsigned.
pub fn redirect_query(xml: &str, signed: Option<(&Signer, &str)>) -> String {
    redirect_message("SAMLRequest", xml, signed)
}

/// [`redirect_query`] for `SAMLRequest` or `SAMLResponse`.
pub fn redirect_message(kind: &str, xml: &str, signed: Option<(&Signer, &str)>) -> String {
    let mut q = format!("{kind}={}", enc(&deflate_b64(xml.as_bytes())));
    if let Some((signer, alg)) = signed {
        q.push_str(&format!("&SigAlg={}", enc(alg)));
        let key = openssl::pkey::PKey::private_key_from_der(&signer.key_der).unwrap();
        let md = if alg == RSA_SHA1 { openssl::hash::MessageDigest::sha1() } else { openssl::hash::MessageDigest::sha256() };
        let sig = openssl::sign::Signer::new(md, &key).unwrap().sign_oneshot_to_vec(q.as_bytes()).unwrap();
        q.push_str(&format!("&Signature={}", enc(&base64::engine::general_purpose::STANDARD.encode(sig))));
    }
    q
}

/// The XML of an HTTP-Redirect URL's message, and whether its query-string
/// signature verifies with the certificate `cert_der`.
pub fn read_signed_redirect(url: &str, cert_der: &[u8]) -> (String, bool) {
    use std::io::Read;
    let query = url.split_once('?').unwrap().1;
    let raw = |name: &str| query.split('&').find_map(|p| p.strip_prefix(&format!("{name}="))).map(str::to_owned);
    let decode = |v: &str| url::form_urlencoded::parse(format!("v={v}").as_bytes()).next().unwrap().1.into_owned();
    let (kind, msg) = ["SAMLRequest", "SAMLResponse"].iter().find_map(|k| raw(k).map(|m| (*k, m))).unwrap();
    let deflated = base64::engine::general_purpose::STANDARD.decode(decode(&msg)).unwrap();
    let mut xml = String::new();
    flate2::read::DeflateDecoder::new(deflated.as_slice()).read_to_string(&mut xml).unwrap();
    let mut octets = format!("{kind}={msg}");
    if let Some(r) = raw("RelayState") {
        octets.push_str(&format!("&RelayState={r}"));
    }
    octets.push_str(&format!("&SigAlg={}", raw("SigAlg").unwrap()));
    let sig = base64::engine::general_purpose::STANDARD.decode(decode(&raw("Signature").unwrap())).unwrap();
    let key = openssl::x509::X509::from_der(cert_der).unwrap().public_key().unwrap();
    let ok = openssl::sign::Verifier::new(openssl::hash::MessageDigest::sha256(), &key).unwrap().verify_oneshot(&sig, octets.as_bytes()).unwrap();
    (xml, ok)
}

/// The forged IdP's entity id.
pub const IDP: &str = "https://idp.forge.example/metadata";

/// A Portcullis whose SAML provider trusts the forged IdP (metadata from
/// a file pinning the test IdP's key).
pub struct Env {
    pub srv: TestServer,
    pub signer: Signer,
    pub provider: &'static str,
    pub metadata: std::path::PathBuf,
    _dir: portcullis_storage::testing::TempDir,
}

pub async fn setup(extra: Vec<(&'static str, String)>) -> Env {
    setup_provider("saml", extra).await
}

/// `saml`, or `entra_id` over SAML, with metadata from a file pinning the test IdP's key.
pub async fn setup_provider(provider: &'static str, extra: Vec<(&'static str, String)>) -> Env {
    let signer = Signer::idp();
    let dir = portcullis_storage::testing::temp_dir();
    let path = dir.0.join("idp-metadata.xml");
    std::fs::write(&path, signer.metadata(IDP, "https://idp.forge.example/sso")).unwrap();
    let mut env = match provider {
        "entra_id" => vec![("AUTH_PROVIDER", "entra_id".to_owned()), ("ENTRA_ID_PROTOCOL", "saml".into()), ("ENTRA_ID_SAML_METADATA_FILE", path.display().to_string())],
        _ => vec![("AUTH_PROVIDER", "saml".to_owned()), ("SAML_IDP_METADATA_FILE", path.display().to_string())],
    };
    env.extend(extra);
    let srv = TestServer::start_with(Db::Sqlite, Options { bootstrap_admin: true, extra_env: env, listener: None }).await.unwrap();
    let ready = srv.wait_ready().await;
    assert_eq!(ready["providers"][provider], "ok", "{ready}");
    Env { srv, signer, provider, metadata: path, _dir: dir }
}

impl Env {
    /// A sign-in started in a fresh browser: the browser and the claims of a
    /// valid answer to its request.
    pub async fn start(&self) -> (Browser, Claims) {
        let b = Browser::default();
        let p = self.provider;
        let resp = b.http.get(self.srv.url(&format!("/auth/{p}/login?return_to=/api/v1/me"))).send().await.unwrap();
        assert_eq!(resp.status(), 303);
        let id = request_id(resp.headers()["location"].to_str().unwrap());
        let acs = self.srv.url(&format!("/auth/{p}/callback"));
        (b, Claims::new(IDP, &acs, &self.srv.url(&format!("/auth/{p}/metadata")), &id))
    }

    pub async fn post(&self, b: &Browser, xml: &str, relay: Option<&str>) -> (u16, String) {
        let resp = b.post_to_acs(&self.srv.url(&format!("/auth/{}/callback", self.provider)), &b64(xml), relay).await;
        let status = resp.status().as_u16();
        (status, resp.text().await.unwrap())
    }

    /// Posts `xml` and expects the named check to refuse it, with no session.
    pub async fn refused(&self, b: &Browser, xml: &str, relay: Option<&str>, check: &str, also: &[&str]) {
        let (status, body) = self.post(b, xml, relay).await;
        assert!((400..500).contains(&status), "{check}: expected a refusal, got {status}: {body}");
        assert!(body.contains(&format!("Check `{check}` failed")), "{check}: {body}");
        for word in also {
            assert!(body.contains(word), "{check}: the message should say `{word}`: {body}");
        }
        assert!(body.contains("request_id"), "{body}");
        let me = b.http.get(self.srv.url("/api/v1/me")).send().await.unwrap();
        assert_eq!(me.status(), 401, "{check}: no session may exist");
    }
}

//! The HTTP-Redirect binding (SAML 2.0 Bindings §3.4), used for single
//! logout: the message is DEFLATEd, base64-encoded and carried in the query
//! string, and signed over the query string itself (§3.4.4.1) instead of
//! with an XML signature.
//!
//! Signatures are made and checked with OpenSSL, the library libxmlsec1
//! itself uses. Not with `samael`'s `UrlVerifier`: it decodes the parameters
//! and encodes them again before verifying, but §3.4.4.1 signs the octets
//! *as the sender encoded them* (IdPs differ, e.g. `%2F` or `%2f`); it
//! indexes parameters that may be missing; and it panics on a `SigAlg`
//! other than SHA-256.

use super::precheck::{self, Refusal};
use base64::Engine;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private, Public};
use std::io::Write;

pub const SAML_REQUEST: &str = "SAMLRequest";
pub const SAML_RESPONSE: &str = "SAMLResponse";
const RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
const RSA_SHA384: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384";
const RSA_SHA512: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512";
const RSA_SHA1: &str = "http://www.w3.org/2000/09/xmldsig#rsa-sha1";
/// The longest query string read. Logout messages are small (about 1 KB
/// deflated); URLs beyond 64 KiB cannot even be represented by the HTTP
/// stack, and no browser sends them reliably.
const MAX_QUERY: usize = 48 * 1024;
/// RelayState is at most 80 bytes (Bindings §3.4.3); some IdPs send more,
/// so a little more is echoed, never an unbounded amount.
const MAX_RELAY_STATE: usize = 1024;

fn refuse(check: &'static str, cause: impl Into<String>, fix: impl Into<String>) -> Refusal {
    Refusal { check, cause: cause.into(), fix: fix.into() }
}

/// A message received over HTTP-Redirect, decoded but not yet trusted.
pub struct Received {
    /// `SAMLRequest` or `SAMLResponse`.
    pub kind: &'static str,
    pub xml: String,
    pub relay_state: Option<String>,
    signature: Option<QuerySignature>,
}

struct QuerySignature {
    sig_alg: String,
    value: Vec<u8>,
    /// `SAMLRequest=…&RelayState=…&SigAlg=…` exactly as received.
    signed_octets: String,
}

fn decoded(raw: &str) -> String {
    url::form_urlencoded::parse(format!("v={raw}").as_bytes()).next().map(|(_, v)| v.into_owned()).unwrap_or_default()
}

/// A base64 parameter: some senders leave `+` unencoded (which form
/// decoding reads as a space) or break lines; neither is a base64 letter.
fn decoded_base64(raw: &str) -> String {
    decoded(raw).chars().filter_map(|c| if c == ' ' { Some('+') } else { (!c.is_ascii_whitespace()).then_some(c) }).collect()
}

/// Reads a raw query string: one message, capped in size and inflation.
pub fn receive(raw_query: &str) -> Result<Received, Refusal> {
    if raw_query.len() > MAX_QUERY {
        return Err(refuse("size", format!("The query string is {} bytes; at most {MAX_QUERY} are accepted.", raw_query.len()), "Check the IdP's logout settings."));
    }
    let mut raw: std::collections::HashMap<&str, &str> = std::collections::HashMap::new();
    for pair in raw_query.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        if raw.insert(name, value).is_some() && [SAML_REQUEST, SAML_RESPONSE, "RelayState", "SigAlg", "Signature"].contains(&name) {
            return Err(refuse("malformed", format!("The parameter `{name}` appears twice in the query string."), "Start again; an IdP sends each parameter once."));
        }
    }
    let kind = match (raw.contains_key(SAML_REQUEST), raw.contains_key(SAML_RESPONSE)) {
        (true, false) => SAML_REQUEST,
        (false, true) => SAML_RESPONSE,
        (true, true) => return Err(refuse("malformed", "The query string carries both SAMLRequest and SAMLResponse.", "Start again from Portcullis or the IdP.")),
        (false, false) => return Err(refuse("malformed", "The query string carries no SAMLRequest or SAMLResponse.", "This address is for the identity provider's logout messages; sign out with the Sign out button.")),
    };
    let xml = precheck::decode_redirect(&decoded_base64(raw[kind]))?;
    let relay_state = raw.get("RelayState").map(|r| decoded(r));
    if relay_state.as_ref().is_some_and(|r| r.len() > MAX_RELAY_STATE) {
        return Err(refuse("size", format!("The RelayState is longer than {MAX_RELAY_STATE} bytes."), "Check the IdP's logout settings."));
    }
    let signature = match (raw.get("SigAlg"), raw.get("Signature")) {
        (None, None) => None,
        (Some(alg), Some(sig)) => {
            let value = base64::engine::general_purpose::STANDARD
                .decode(decoded_base64(sig))
                .map_err(|_| refuse("signature", "The Signature parameter is not base64.", "Check the IdP's logout settings."))?;
            // §3.4.4.1: the parameters in this order, as they arrived.
            let mut signed_octets = format!("{kind}={}", raw[kind]);
            if let Some(r) = raw.get("RelayState") {
                signed_octets.push_str(&format!("&RelayState={r}"));
            }
            signed_octets.push_str(&format!("&SigAlg={alg}"));
            Some(QuerySignature { sig_alg: decoded(alg), value, signed_octets })
        }
        _ => return Err(refuse("signature", "The query string has SigAlg without Signature, or Signature without SigAlg.", "Check the IdP's logout settings.")),
    };
    Ok(Received { kind, xml, relay_state, signature })
}

impl Received {
    /// Checks the query-string signature against the IdP's pinned keys.
    /// `Ok(false)` when the message is unsigned (the caller decides whether
    /// that is acceptable); an error when signed with anything but one of
    /// the keys, or with an algorithm outside the allow-list.
    pub fn verify(&self, keys: &[PKey<Public>], allow_sha1: bool) -> Result<bool, Refusal> {
        let Some(sig) = &self.signature else { return Ok(false) };
        let digest = match sig.sig_alg.as_str() {
            RSA_SHA256 => MessageDigest::sha256(),
            RSA_SHA384 => MessageDigest::sha384(),
            RSA_SHA512 => MessageDigest::sha512(),
            RSA_SHA1 if allow_sha1 => MessageDigest::sha1(),
            other => {
                let fix = if other == RSA_SHA1 {
                    "Configure the IdP to sign logout messages with RSA-SHA256 (or, only if impossible, set SAML_ALLOW_SHA1=true)."
                } else {
                    "Configure the IdP to sign logout messages with RSA-SHA256."
                };
                return Err(refuse("algorithm", format!("The logout message is signed with `{}`; RSA with SHA-256 or stronger is required.", other.chars().take(120).collect::<String>()), fix));
            }
        };
        for key in keys.iter().filter(|k| k.rsa().is_ok()) {
            let ok = openssl::sign::Verifier::new(digest, key).and_then(|mut v| v.verify_oneshot(&sig.value, sig.signed_octets.as_bytes())).unwrap_or(false);
            if ok {
                return Ok(true);
            }
        }
        Err(refuse(
            "signature",
            "The logout message's signature does not verify against the IdP's certificates from its metadata (changed after signing, or signed by another key).",
            "If the IdP rolled over its signing certificate, Portcullis reads the new one at the next metadata refresh (SAML_METADATA_REFRESH).",
        ))
    }
}

/// The URL that carries `xml` to `endpoint` over HTTP-Redirect, signed with
/// RSA-SHA256 by `key` (§3.4.4.1).
pub fn signed_url(endpoint: &str, kind: &str, xml: &str, relay_state: Option<&str>, key: &PKey<Private>) -> Result<String, openssl::error::ErrorStack> {
    let mut deflater = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    deflater.write_all(xml.as_bytes()).expect("writing to memory");
    let deflated = deflater.finish().expect("writing to memory");
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    query.append_pair(kind, &base64::engine::general_purpose::STANDARD.encode(deflated));
    if let Some(r) = relay_state {
        query.append_pair("RelayState", r);
    }
    query.append_pair("SigAlg", RSA_SHA256);
    let mut query = query.finish();
    let mut signer = openssl::sign::Signer::new(MessageDigest::sha256(), key)?;
    let signature = signer.sign_oneshot_to_vec(query.as_bytes())?;
    query.push_str("&Signature=");
    query.extend(url::form_urlencoded::byte_serialize(base64::engine::general_purpose::STANDARD.encode(signature).as_bytes()));
    let sep = if endpoint.contains('?') { '&' } else { '?' };
    Ok(format!("{endpoint}{sep}{query}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> PKey<Private> {
        PKey::from_rsa(openssl::rsa::Rsa::generate(2048).unwrap()).unwrap()
    }

    fn public(k: &PKey<Private>) -> PKey<Public> {
        PKey::public_key_from_der(&k.public_key_to_der().unwrap()).unwrap()
    }

    const XML: &str = "<samlp:LogoutRequest xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" ID=\"_1\"/>";

    #[test]
    fn a_signed_message_round_trips_and_verifies_only_with_its_key() {
        let k = key();
        let url = signed_url("https://idp.example/slo?tenant=a", SAML_REQUEST, XML, Some("state/1 2"), &k).unwrap();
        let query = url.split_once('?').unwrap().1;
        let got = receive(query).unwrap();
        assert_eq!((got.kind, got.xml.as_str(), got.relay_state.as_deref()), (SAML_REQUEST, XML, Some("state/1 2")));
        assert!(got.verify(&[public(&key()), public(&k)], false).unwrap(), "any pinned key may verify");
        assert_eq!(got.verify(&[public(&key())], false).unwrap_err().check, "signature");
        // One changed parameter breaks it.
        let tampered = query.replace("RelayState=state", "RelayState=other");
        assert_eq!(receive(&tampered).unwrap().verify(&[public(&k)], false).unwrap_err().check, "signature");
    }

    #[test]
    fn the_signature_covers_the_octets_as_sent_not_as_re_encoded() {
        // An IdP that percent-encodes with lower-case hex: the signature is
        // over its octets, which re-encoding would change.
        let k = key();
        let msg = url::form_urlencoded::byte_serialize(base64::engine::general_purpose::STANDARD.encode(deflate(XML)).as_bytes()).collect::<String>().replace("%2F", "%2f").replace("%2B", "%2b");
        let alg = url::form_urlencoded::byte_serialize(RSA_SHA256.as_bytes()).collect::<String>().to_lowercase();
        let octets = format!("SAMLRequest={msg}&SigAlg={alg}");
        let sig = openssl::sign::Signer::new(MessageDigest::sha256(), &k).unwrap().sign_oneshot_to_vec(octets.as_bytes()).unwrap();
        let query = format!("{octets}&Signature={}", url::form_urlencoded::byte_serialize(base64::engine::general_purpose::STANDARD.encode(sig).as_bytes()).collect::<String>());
        assert!(receive(&query).unwrap().verify(&[public(&k)], false).unwrap());
    }

    fn deflate(s: &str) -> Vec<u8> {
        let mut d = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        d.write_all(s.as_bytes()).unwrap();
        d.finish().unwrap()
    }

    #[test]
    fn sha1_unsigned_and_half_signed_messages() {
        let k = key();
        let msg = url::form_urlencoded::byte_serialize(base64::engine::general_purpose::STANDARD.encode(deflate(XML)).as_bytes()).collect::<String>();
        let alg = url::form_urlencoded::byte_serialize(RSA_SHA1.as_bytes()).collect::<String>();
        let octets = format!("SAMLRequest={msg}&SigAlg={alg}");
        let sig = openssl::sign::Signer::new(MessageDigest::sha1(), &k).unwrap().sign_oneshot_to_vec(octets.as_bytes()).unwrap();
        let sig = url::form_urlencoded::byte_serialize(base64::engine::general_purpose::STANDARD.encode(sig).as_bytes()).collect::<String>();
        let query = format!("{octets}&Signature={sig}");
        assert_eq!(receive(&query).unwrap().verify(&[public(&k)], false).unwrap_err().check, "algorithm");
        assert!(receive(&query).unwrap().verify(&[public(&k)], true).unwrap(), "SHA-1 only when allowed");
        assert!(!receive(&format!("SAMLRequest={msg}")).unwrap().verify(&[public(&k)], false).unwrap(), "unsigned: reported, not refused here");
        assert_eq!(receive(&format!("SAMLRequest={msg}&Signature={sig}")).err().unwrap().check, "signature");
        assert_eq!(receive(&format!("SAMLRequest={msg}&SAMLRequest={msg}")).err().unwrap().check, "malformed");
        assert_eq!(receive("foo=bar").err().unwrap().check, "malformed");
    }
}

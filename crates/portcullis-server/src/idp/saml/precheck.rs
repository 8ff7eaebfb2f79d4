//! What a SAML message must look like before any signature is checked.
//!
//! The signature itself is verified by libxmlsec1 (through `samael`), which
//! then keeps only the nodes the signature covered. These checks come first
//! and refuse, with a precise reason, the shapes that signature-wrapping and
//! parser attacks need:
//! - size caps on the encoded, decoded and inflated message;
//! - no DOCTYPE (so no entities) and no comments (the NameID-comment
//!   truncation attack);
//! - exactly one assertion (plain or encrypted), a direct child of the
//!   Response, and no assertion anywhere else (XSW1–XSW8 all add or move one);
//! - every `ds:Signature` a direct child of the Response or the Assertion,
//!   with exactly one `Reference` to its parent's `ID`, IDs unique in the
//!   document;
//! - exclusive canonicalization and the enveloped-signature transform only;
//! - RSA with SHA-256 or stronger (SHA-1 only with `SAML_ALLOW_SHA1`).
//!
//! XML is read with `roxmltree`, which refuses DTDs by default.

use base64::Engine;
use std::io::Read;

/// The largest `SAMLResponse` form field accepted (base64).
pub const MAX_ENCODED: usize = 256 * 1024;
/// The largest XML accepted once decoded (or inflated).
pub const MAX_XML: usize = 192 * 1024;

pub const NS_PROTOCOL: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
pub const NS_ASSERTION: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
pub const NS_DSIG: &str = "http://www.w3.org/2000/09/xmldsig#";

const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
const ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";
const STRONG_SIGNATURES: &[&str] = &[
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384",
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512",
];
const STRONG_DIGESTS: &[&str] = &[
    "http://www.w3.org/2001/04/xmlenc#sha256",
    "http://www.w3.org/2001/04/xmldsig-more#sha384",
    "http://www.w3.org/2001/04/xmlenc#sha512",
];
const SHA1_SIGNATURE: &str = "http://www.w3.org/2000/09/xmldsig#rsa-sha1";
const SHA1_DIGEST: &str = "http://www.w3.org/2000/09/xmldsig#sha1";

/// A check that failed: which, what was seen, and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub check: &'static str,
    pub cause: String,
    pub fix: String,
}

fn refuse(check: &'static str, cause: impl Into<String>, fix: impl Into<String>) -> Refusal {
    Refusal { check, cause: cause.into(), fix: fix.into() }
}

fn not_saml(cause: impl Into<String>) -> Refusal {
    refuse("malformed", cause, "Start again from the sign-in page; if it persists, an administrator should compare the IdP's SAML settings with Portcullis's SP metadata.")
}

/// Decodes an HTTP-POST binding message (base64, no compression).
pub fn decode_post(encoded: &str) -> Result<String, Refusal> {
    if encoded.len() > MAX_ENCODED {
        return Err(refuse("size", format!("The SAML message is {} bytes; at most {MAX_ENCODED} are accepted.", encoded.len()), "Ask the IdP administrator to send fewer attributes (group overage, large certificates)."));
    }
    let compact: String = encoded.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let bytes = base64::engine::general_purpose::STANDARD.decode(compact).map_err(|_| not_saml("The SAMLResponse field is not base64."))?;
    if bytes.len() > MAX_XML {
        return Err(refuse("size", format!("The decoded SAML message is {} bytes; at most {MAX_XML} are accepted.", bytes.len()), "Ask the IdP administrator to send fewer attributes."));
    }
    String::from_utf8(bytes).map_err(|_| not_saml("The SAML message is not UTF-8 text."))
}

/// Decodes an HTTP-Redirect binding message (base64 of raw DEFLATE), never
/// inflating more than [`MAX_XML`] bytes (a deflate bomb stops there).
pub fn decode_redirect(encoded: &str) -> Result<String, Refusal> {
    if encoded.len() > MAX_ENCODED {
        return Err(refuse("size", format!("The SAML message is {} bytes; at most {MAX_ENCODED} are accepted.", encoded.len()), "Check the IdP's logout settings."));
    }
    let bytes = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).map_err(|_| not_saml("The SAML message is not base64."))?;
    let mut out = Vec::new();
    flate2::read::DeflateDecoder::new(bytes.as_slice())
        .take(MAX_XML as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|_| not_saml("The SAML message is not DEFLATE-compressed as the HTTP-Redirect binding requires."))?;
    if out.len() > MAX_XML {
        return Err(refuse("size", format!("The SAML message inflates to more than {MAX_XML} bytes (from {} compressed): refused as a decompression bomb.", bytes.len()), "Check the IdP's logout settings."));
    }
    String::from_utf8(out).map_err(|_| not_saml("The SAML message is not UTF-8 text."))
}

/// Parses XML the only way SAML allows: no DOCTYPE, no entities.
pub fn parse(xml: &str) -> Result<roxmltree::Document<'_>, Refusal> {
    let lowered = xml.get(..xml.len().min(4096)).unwrap_or(xml).to_ascii_lowercase();
    if lowered.contains("<!doctype") || xml.contains("<!ENTITY") {
        return Err(refuse(
            "doctype",
            "The SAML message contains a DOCTYPE (document type or entity declarations), which SAML forbids and which XML entity attacks rely on.",
            "Nothing to fix on your side if you did not craft this message; genuine IdPs never send a DOCTYPE.",
        ));
    }
    let opts = roxmltree::ParsingOptions { allow_dtd: false, nodes_limit: 20_000 };
    roxmltree::Document::parse_with_options(xml, opts).map_err(|e| not_saml(format!("The SAML message is not well-formed XML ({e}).")))
}

/// What the checks found out about a Response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shape {
    pub response_id: String,
    pub in_response_to: Option<String>,
    pub destination: Option<String>,
    pub issuer: Option<String>,
    /// The plain assertion's ID (none when encrypted).
    pub assertion_id: Option<String>,
    pub encrypted: bool,
    pub response_signed: bool,
    pub assertion_signed: bool,
    /// Base64 DER of certificates found in `KeyInfo` (never trusted; only
    /// to explain a failure: "not the certificate in the metadata").
    pub key_info_certs: Vec<String>,
    /// Values seen, for error messages only (unverified).
    pub audiences: Vec<String>,
    pub recipients: Vec<String>,
    /// `InResponseTo` of the assertion's SubjectConfirmationData (unverified,
    /// for messages: what the assertion claims to answer).
    pub assertion_in_response_to: Vec<String>,
}

pub fn is(node: &roxmltree::Node<'_, '_>, ns: &str, name: &str) -> bool {
    node.is_element() && node.tag_name().namespace() == Some(ns) && node.tag_name().name() == name
}

/// Checks a `samlp:Response` as described in the module documentation.
pub fn check_response(xml: &str, allow_sha1: bool) -> Result<Shape, Refusal> {
    let doc = parse(xml)?;
    let root = doc.root_element();
    if !is(&root, NS_PROTOCOL, "Response") {
        return Err(not_saml(format!("Expected a samlp:Response, got <{}>.", root.tag_name().name())));
    }
    if doc.descendants().any(|n| n.is_comment()) {
        return Err(refuse(
            "comment",
            "The SAML message contains an XML comment. Comments inside signed values (such as the NameID) let an attacker change what a parser reads without breaking the signature, so they are refused.",
            "Genuine IdPs do not put comments in responses; if yours does, report it to its vendor.",
        ));
    }
    let mut ids = std::collections::HashSet::new();
    for n in doc.descendants().filter(|n| n.is_element()) {
        if let Some(id) = n.attribute("ID") {
            if !ids.insert(id) {
                return Err(refuse("structure", format!("The ID `{}` appears twice in the SAML message (a signature-wrapping attempt).", id.chars().take(80).collect::<String>()), "Start again from the sign-in page."));
            }
        }
    }
    let assertions: Vec<_> = doc.descendants().filter(|n| is(n, NS_ASSERTION, "Assertion")).collect();
    let encrypted: Vec<_> = doc.descendants().filter(|n| is(n, NS_ASSERTION, "EncryptedAssertion")).collect();
    let total = assertions.len() + encrypted.len();
    if total != 1 {
        return Err(refuse(
            "assertion_count",
            format!("The SAML response holds {total} assertions; exactly one is accepted (more is how signature-wrapping attacks smuggle in an unsigned one)."),
            "Start again from the sign-in page; if it persists, configure the IdP to send one assertion per response.",
        ));
    }
    let the_assertion = assertions.first().or(encrypted.first()).copied().expect("one");
    if the_assertion.parent_element() != Some(root) {
        return Err(refuse("structure", "The assertion is not a direct child of the Response (a signature-wrapping attempt).", "Start again from the sign-in page."));
    }
    let mut shape = Shape {
        response_id: root.attribute("ID").unwrap_or_default().to_owned(),
        in_response_to: root.attribute("InResponseTo").map(str::to_owned),
        destination: root.attribute("Destination").map(str::to_owned),
        issuer: root.children().find(|n| is(n, NS_ASSERTION, "Issuer")).and_then(|n| n.text()).map(|t| t.trim().to_owned()),
        assertion_id: assertions.first().and_then(|a| a.attribute("ID")).map(str::to_owned),
        encrypted: !encrypted.is_empty(),
        response_signed: false,
        assertion_signed: false,
        key_info_certs: Vec::new(),
        audiences: doc.descendants().filter(|n| is(n, NS_ASSERTION, "Audience")).filter_map(|n| n.text()).map(|t| t.trim().to_owned()).collect(),
        recipients: doc
            .descendants()
            .filter(|n| is(n, NS_ASSERTION, "SubjectConfirmationData"))
            .filter_map(|n| n.attribute("Recipient"))
            .map(str::to_owned)
            .collect(),
        assertion_in_response_to: doc
            .descendants()
            .filter(|n| is(n, NS_ASSERTION, "SubjectConfirmationData"))
            .filter_map(|n| n.attribute("InResponseTo"))
            .map(str::to_owned)
            .collect(),
    };
    if shape.response_id.is_empty() {
        return Err(not_saml("The Response has no ID."));
    }
    for sig in doc.descendants().filter(|n| is(n, NS_DSIG, "Signature")) {
        let parent = sig.parent_element().expect("not the root");
        let signs_response = parent == root;
        let signs_assertion = Some(parent) == assertions.first().copied();
        if !signs_response && !signs_assertion {
            return Err(refuse("signature_placement", format!("A signature sits inside <{}>, where SAML never puts one (a signature-wrapping attempt).", parent.tag_name().name()), "Start again from the sign-in page."));
        }
        check_signature(&sig, parent.attribute("ID").unwrap_or_default(), allow_sha1)?;
        shape.key_info_certs.extend(
            sig.descendants().filter(|n| is(n, NS_DSIG, "X509Certificate")).filter_map(|n| n.text()).map(|t| t.chars().filter(|c| !c.is_whitespace()).collect()),
        );
        if signs_response {
            shape.response_signed = true;
        } else {
            shape.assertion_signed = true;
        }
    }
    if !shape.response_signed && !shape.assertion_signed {
        return Err(refuse("unsigned", "The SAML response is not signed (neither the Response nor the Assertion carries a signature).", "Configure the IdP to sign the assertion, the response, or both."));
    }
    if shape.encrypted && !shape.response_signed {
        return Err(refuse("unsigned", "The assertion is encrypted but the Response around it is not signed, so nothing proves who encrypted it.", "Configure the IdP to sign the response when it encrypts assertions."));
    }
    Ok(shape)
}

fn check_signature(sig: &roxmltree::Node<'_, '_>, parent_id: &str, allow_sha1: bool) -> Result<(), Refusal> {
    let wrapping = |cause: &str| refuse("signature_reference", cause.to_owned(), "Start again from the sign-in page.");
    let signed_info = sig.children().find(|n| is(n, NS_DSIG, "SignedInfo")).ok_or_else(|| wrapping("A signature has no SignedInfo."))?;
    let refs: Vec<_> = signed_info.children().filter(|n| is(n, NS_DSIG, "Reference")).collect();
    if refs.len() != 1 {
        return Err(wrapping(&format!("A signature covers {} references; SAML signs exactly one, its parent element.", refs.len())));
    }
    let uri = refs[0].attribute("URI").unwrap_or_default();
    if parent_id.is_empty() || uri != format!("#{parent_id}") {
        return Err(wrapping(&format!("A signature covers `{}` instead of the element it sits in (`#{parent_id}`): a signature-wrapping attempt.", uri.chars().take(80).collect::<String>())));
    }
    let algorithm = |parent: &roxmltree::Node<'_, '_>, name: &str| {
        parent.children().find(|n| is(n, NS_DSIG, name)).and_then(|n| n.attribute("Algorithm")).unwrap_or_default().to_owned()
    };
    let c14n = algorithm(&signed_info, "CanonicalizationMethod");
    if c14n != EXC_C14N {
        return Err(refuse("algorithm", format!("The signature uses canonicalization `{c14n}`; only exclusive canonicalization without comments ({EXC_C14N}) is accepted."), "Configure the IdP to use exclusive canonicalization (the SAML default)."));
    }
    for t in refs[0].descendants().filter(|n| is(n, NS_DSIG, "Transform")) {
        let a = t.attribute("Algorithm").unwrap_or_default();
        if a != ENVELOPED && a != EXC_C14N {
            return Err(refuse("algorithm", format!("The signature applies the transform `{a}`; only enveloped-signature and exclusive canonicalization are accepted."), "Configure the IdP to sign with the standard SAML transforms."));
        }
    }
    let method = algorithm(&signed_info, "SignatureMethod");
    let digest = algorithm(&refs[0], "DigestMethod");
    let sha1_ok = allow_sha1 && method == SHA1_SIGNATURE;
    if !STRONG_SIGNATURES.contains(&method.as_str()) && !sha1_ok {
        let fix = if method == SHA1_SIGNATURE {
            "Configure the IdP to sign with SHA-256 (in Entra ID: the app's SAML Signing Certificate, Signing Algorithm SHA-256). Only if that is impossible, set SAML_ALLOW_SHA1=true."
        } else {
            "Configure the IdP to sign with RSA-SHA256."
        };
        return Err(refuse("algorithm", format!("The signature algorithm is `{method}`; RSA with SHA-256 or stronger is required."), fix));
    }
    if !(STRONG_DIGESTS.contains(&digest.as_str()) || allow_sha1 && digest == SHA1_DIGEST) {
        return Err(refuse("algorithm", format!("The signature's digest is `{digest}`; SHA-256 or stronger is required."), "Configure the IdP to use SHA-256 digests (or, only if impossible, set SAML_ALLOW_SHA1=true)."));
    }
    Ok(())
}

/// A same-origin relative path from `RelayState`, or `/`.
pub fn relay_state_target(relay: Option<&str>, own_origin: &str) -> Result<String, Refusal> {
    match relay.filter(|r| !r.is_empty()) {
        None => Ok("/".into()),
        Some(r) => {
            let safe = portcullis_domain::validation::safe_return_to(Some(r), own_origin);
            let root = ["/", own_origin, &format!("{own_origin}/")].iter().any(|x| r.eq_ignore_ascii_case(x));
            if safe == "/" && !root {
                return Err(refuse(
                    "relay_state",
                    format!("The RelayState `{}` is not a path on this server; Portcullis only returns to its own pages.", r.chars().take(120).collect::<String>()),
                    "Start again from the sign-in page of Portcullis.",
                ));
            }
            Ok(safe)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn deflate(data: &[u8]) -> String {
        let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
        e.write_all(data).unwrap();
        base64::engine::general_purpose::STANDARD.encode(e.finish().unwrap())
    }

    #[test]
    fn redirect_messages_inflate_within_the_cap_and_bombs_stop_there() {
        let small = "<samlp:LogoutRequest xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" ID=\"_1\"/>";
        assert_eq!(decode_redirect(&deflate(small.as_bytes())).unwrap(), small);
        // 100 MB of spaces compress to about 100 KB: refused after MAX_XML
        // bytes of inflation, without inflating the rest.
        let bomb = deflate(&vec![b' '; 100 * 1024 * 1024]);
        assert!(bomb.len() < MAX_ENCODED, "the bomb itself is small ({} bytes)", bomb.len());
        let r = decode_redirect(&bomb).unwrap_err();
        assert_eq!(r.check, "size");
        assert!(r.cause.contains("decompression bomb"), "{}", r.cause);
        assert_eq!(decode_redirect("not base64 at all!").unwrap_err().check, "malformed");
    }

    #[test]
    fn post_messages_are_capped_and_must_be_base64_utf8() {
        assert_eq!(decode_post(&"A".repeat(MAX_ENCODED + 1)).unwrap_err().check, "size");
        assert_eq!(decode_post("%%%").unwrap_err().check, "malformed");
        let xml = "<r/>";
        let enc = base64::engine::general_purpose::STANDARD.encode(xml);
        // Line breaks, as some IdPs send them, are ignored.
        assert_eq!(decode_post(&format!("{}\r\n{}", &enc[..2], &enc[2..])).unwrap(), xml);
    }

    #[test]
    fn doctype_and_foreign_roots_are_refused() {
        assert_eq!(parse("<!DOCTYPE r [<!ENTITY a \"b\">]><r>&a;</r>").unwrap_err().check, "doctype");
        assert_eq!(check_response("<r/>", false).unwrap_err().check, "malformed");
        let no_sig = format!("<samlp:Response xmlns:samlp=\"{NS_PROTOCOL}\" xmlns:saml=\"{NS_ASSERTION}\" ID=\"_r\"><saml:Assertion ID=\"_a\"/></samlp:Response>");
        assert_eq!(check_response(&no_sig, false).unwrap_err().check, "unsigned");
        let nested = format!("<samlp:Response xmlns:samlp=\"{NS_PROTOCOL}\" xmlns:saml=\"{NS_ASSERTION}\" ID=\"_r\"><samlp:Extensions><saml:Assertion ID=\"_a\"/></samlp:Extensions></samlp:Response>");
        assert_eq!(check_response(&nested, false).unwrap_err().check, "structure");
        let dup = format!("<samlp:Response xmlns:samlp=\"{NS_PROTOCOL}\" xmlns:saml=\"{NS_ASSERTION}\" ID=\"_a\"><saml:Assertion ID=\"_a\"/></samlp:Response>");
        assert_eq!(check_response(&dup, false).unwrap_err().check, "structure");
    }

    #[test]
    fn relay_state_is_a_local_path_or_nothing() {
        assert_eq!(relay_state_target(None, "https://p.example").unwrap(), "/");
        assert_eq!(relay_state_target(Some("/api/v1/me?x=1"), "https://p.example").unwrap(), "/api/v1/me?x=1");
        for bad in ["https://evil.example/", "//evil.example", "/\\evil", "javascript:alert(1)"] {
            assert_eq!(relay_state_target(Some(bad), "https://p.example").unwrap_err().check, "relay_state", "{bad}");
        }
    }
}

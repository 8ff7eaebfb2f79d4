//! XML signature wrapping (XSW1–XSW8, as named by SAML Raider after
//! Somorovsky et al., "On Breaking SAML", 2012), built from real responses
//! of the SimpleSAMLphp peer: bob signs in honestly, then rearranges the
//! signed XML so that an unsigned copy saying "alice, factory-admin" is
//! what a naive SP would read. Each is refused, with no session.


use crate::support::saml_peer::{Browser, SamlPeer, TrustedSp};
use crate::support::{Db, Options, TestServer};

fn decode(saml_response: &str) -> String {
    use base64::Engine;
    String::from_utf8(base64::engine::general_purpose::STANDARD.decode(saml_response).unwrap()).unwrap()
}

fn encode(xml: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(xml)
}

/// The parts of a real signed Response.
struct Parts {
    open: String,
    issuer: String,
    response_signature: String,
    status: String,
    assertion: String,
    assertion_signature: String,
    assertion_id: String,
}

fn between<'a>(s: &'a str, start: &str, end: &str) -> &'a str {
    let a = s.find(start).unwrap_or_else(|| panic!("no {start}"));
    let b = a + s[a..].find(end).unwrap_or_else(|| panic!("no {end}")) + end.len();
    &s[a..b]
}

fn parts(xml: &str) -> Parts {
    let open = xml[..xml.find('>').unwrap() + 1].to_owned();
    let assertion = between(xml, "<saml:Assertion", "</saml:Assertion>").to_owned();
    let assertion_signature = between(&assertion, "<ds:Signature", "</ds:Signature>").to_owned();
    let assertion_id = assertion.split(" ID=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();
    Parts {
        issuer: between(xml, "<saml:Issuer", "</saml:Issuer>").to_owned(),
        response_signature: between(xml, "<ds:Signature", "</ds:Signature>").to_owned(),
        status: between(xml, "<samlp:Status>", "</samlp:Status>").to_owned(),
        open,
        assertion,
        assertion_signature,
        assertion_id,
    }
}

impl Parts {
    /// The assertion rewritten to say alice (e-mail, roles), under `id`,
    /// with or without the original signature.
    fn evil(&self, id: &str, keep_signature: bool) -> String {
        let mut a = self.assertion.replace("bob@example.test", "alice@example.test").replace(">member<", ">factory-admin<");
        if !keep_signature {
            a = a.replace(&self.assertion_signature, "");
        }
        a.replace(&format!(" ID=\"{}\"", self.assertion_id), &format!(" ID=\"{id}\""))
    }

    fn unsigned_assertion(&self) -> String {
        self.assertion.replace(&self.assertion_signature, "")
    }

    fn whole(&self) -> String {
        format!("{}{}{}{}{}</samlp:Response>", self.open, self.issuer, self.response_signature, self.status, self.assertion)
    }

    /// The Response without its own signature (assertion-only signature:
    /// what XSW3–XSW8 target).
    fn with_body(&self, body: &str) -> String {
        format!("{}{}{}</samlp:Response>", self.open, self.issuer, body)
    }
}

/// The eight wrapping variants.
fn variants(p: &Parts) -> Vec<(&'static str, String)> {
    let evil_response = |id: &str| {
        let open = p.open.replace(" ID=\"", &format!(" ID=\"{id}x"));
        format!("{open}{}{}{}</samlp:Response>", p.issuer, p.status, p.evil("_evil", false))
    };
    let sig_with = |inner: &str| p.assertion_signature.replace("</ds:Signature>", &format!("{inner}</ds:Signature>"));
    vec![
        // 1, 2: an unsigned clone of the Response after / before the Response's signature.
        ("XSW1", format!("{}{}{}{}{}{}</samlp:Response>", p.open, p.issuer, p.response_signature, evil_response("_c1"), p.status, p.assertion)),
        ("XSW2", format!("{}{}{}{}{}{}</samlp:Response>", p.open, p.issuer, evil_response("_c2"), p.response_signature, p.status, p.assertion)),
        // 3: an unsigned assertion before the signed one.
        ("XSW3", p.with_body(&format!("{}{}{}", p.status, p.evil("_evil3", false), p.assertion))),
        // 4: the unsigned assertion wrapping the signed one.
        ("XSW4", p.with_body(&format!("{}{}", p.status, p.evil("_evil4", false).replace("</saml:Assertion>", &format!("{}</saml:Assertion>", p.assertion))))),
        // 5: the signed assertion changed (its signature kept), an unsigned
        //    copy of the original at the end of the message.
        ("XSW5", p.with_body(&format!("{}{}{}", p.status, p.evil(&p.assertion_id, true), p.unsigned_assertion()))),
        // 6: the same, the original inside the signature.
        ("XSW6", p.with_body(&format!("{}{}", p.status, p.evil(&p.assertion_id, true).replace(&p.assertion_signature, &sig_with(&p.unsigned_assertion()))))),
        // 7: an Extensions block with an unsigned assertion.
        ("XSW7", p.with_body(&format!("<samlp:Extensions>{}</samlp:Extensions>{}{}", p.evil("_evil7", false), p.status, p.assertion))),
        // 8: the original, unsigned, in a ds:Object of the changed assertion's signature.
        ("XSW8", p.with_body(&format!("{}{}", p.status, p.evil(&p.assertion_id, true).replace(&p.assertion_signature, &sig_with(&format!("<ds:Object>{}</ds:Object>", p.unsigned_assertion())))))),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xsw1_to_xsw8_from_real_responses_are_refused() {
    let peer = SamlPeer::start().await;
    // Password sign-in on too, so the owner can list the members afterwards.
    let env = vec![("PORTCULLIS_AUTH_PROVIDERS", "saml,local".to_owned()), ("SAML_IDP_METADATA_URL", peer.metadata_url.clone())];
    let srv = TestServer::start_with(Db::Sqlite, Options { bootstrap_admin: true, extra_env: env, listener: None }).await.unwrap();
    let p = srv.state.sso.saml("saml").unwrap();
    peer.trust(&[TrustedSp { entity_id: &p.sp.entity_id, acs: &p.sp.acs_url, cert: &p.sp.cert_base64(), encrypt: false, sign_alg: None, slo: None }]);
    assert_eq!(srv.wait_ready().await["status"], "ready");

    // The untouched response works (so the refusals are about the wrapping).
    let b = Browser::default();
    let answer = b.sign_in_at_idp(&srv.url("/auth/saml/login"), "bob", "bob-password").await;
    let real = decode(&answer.saml_response);
    assert_eq!(parts(&real).whole(), real, "the response is understood as issuer, signature, status, assertion");
    assert_eq!(b.post_to_acs(&answer.acs, &answer.saml_response, None).await.status(), 303);

    for i in 0..8 {
        // A fresh honest sign-in by bob for each variant (each request is answered once).
        let b = Browser::default();
        let answer = b.sign_in_at_idp(&srv.url("/auth/saml/login"), "bob", "bob-password").await;
        let (name, forged) = variants(&parts(&decode(&answer.saml_response))).remove(i);
        assert!(forged.contains("alice@example.test"), "{name} carries the attacker's claim");
        let resp = b.post_to_acs(&answer.acs, &encode(&forged), None).await;
        let status = resp.status();
        let body = resp.text().await.unwrap();
        assert_eq!(status, 400, "{name}: {body}");
        let wrapping_checks = ["assertion_count", "structure", "signature_placement", "signature_reference", "signature"];
        assert!(wrapping_checks.iter().any(|c| body.contains(&format!("Check `{c}` failed"))), "{name}: {body}");
        let me = b.http.get(srv.url("/api/v1/me")).send().await.unwrap();
        assert_eq!(me.status(), 401, "{name}: no session");
    }
    // Nobody became alice.
    let owner = srv.owner().await;
    let members = owner.members().await.unwrap();
    assert!(!members.iter().any(|m| m.user.email == "alice@example.test"), "alice was never signed in");
}

//! The known SAML attacks, each refused with no session: responses from a
//! misbehaving IdP of our own (`support/saml_forge.rs`), signed for real by
//! libxmlsec1 with the key the IdP's metadata pins, or with a stranger's.
//! (Signature wrapping built from a real SimpleSAMLphp response is in
//! `saml_wrapping.rs`.)


use crate::support::saml_forge::{self as forge, setup, setup_provider, Claims, Signer, IDP};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_well_formed_forged_response_signs_in_so_the_refusals_below_mean_something() {
    let e = setup(vec![]).await;
    let (b, c) = e.start().await;
    let (status, body) = e.post(&b, &forge::signed_response(&c, &e.signer, true), Some("/api/v1/me")).await;
    assert_eq!(status, 303, "{body}");
    let me: serde_json::Value = b.http.get(e.srv.url("/api/v1/me")).send().await.unwrap().json().await.unwrap();
    assert_eq!(me["user"]["email"], "mallory@example.test");
    // Assertion signed, Response not: accepted too (SAML allows either).
    let (b, c) = e.start().await;
    assert_eq!(e.post(&b, &forge::signed_response(&c, &e.signer, false), None).await.0, 303);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signatures_that_are_missing_broken_or_from_another_key_are_refused() {
    let e = setup(vec![]).await;
    // The signature removed.
    let (b, c) = e.start().await;
    let a = forge::assertion(&c, "");
    e.refused(&b, &forge::response(&c, "", &a), None, "unsigned", &["not signed"]).await;
    // Changed after signing (another e-mail address).
    let (b, c) = e.start().await;
    let xml = forge::signed_response(&c, &e.signer, true).replace("mallory@example.test", "alice@example.test");
    e.refused(&b, &xml, None, "signature", &["does not verify"]).await;
    // Signed by a key that is not in the metadata, its certificate in KeyInfo.
    let (b, c) = e.start().await;
    let xml = forge::signed_response(&c, &Signer::stranger(), true);
    e.refused(&b, &xml, None, "signature", &["not the one in the IdP's metadata", "SHA-256"]).await;
    // SHA-1.
    let (b, mut c) = e.start().await;
    c.signature_alg = forge::RSA_SHA1;
    c.digest_alg = forge::SHA1;
    e.refused(&b, &forge::signed_response(&c, &e.signer, true), None, "algorithm", &["rsa-sha1", "SAML_ALLOW_SHA1"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sha1_is_accepted_only_when_the_operator_allows_it() {
    let e = setup(vec![("SAML_ALLOW_SHA1", "true".into())]).await;
    let (b, mut c) = e.start().await;
    c.signature_alg = forge::RSA_SHA1;
    c.digest_alg = forge::SHA1;
    let (status, body) = e.post(&b, &forge::signed_response(&c, &e.signer, true), None).await;
    assert_eq!(status, 303, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_assertions_or_an_unsigned_one_beside_a_signed_one_are_refused() {
    let e = setup(vec![]).await;
    // Two signed assertions.
    let (b, c) = e.start().await;
    let signed = forge::signed_response(&c, &e.signer, false);
    let one = &signed[signed.find("<saml:Assertion").unwrap()..signed.find("</samlp:Response>").unwrap()];
    let mut c2 = c.clone();
    c2.assertion_id = format!("{}b", c.assertion_id);
    let two = forge::response(&c, "", &format!("{one}{}", forge::assertion(&c2, "")));
    e.refused(&b, &two, None, "assertion_count", &["2 assertions"]).await;
    // An unsigned assertion for alice beside the signed one for mallory,
    // inside a signed Response.
    let (b, c) = e.start().await;
    let mut evil = c.clone();
    evil.assertion_id = format!("{}evil", c.assertion_id);
    evil.email = "alice@example.test".into();
    let xml = forge::signed_response(&c, &e.signer, true).replace("<saml:Assertion ", &format!("{}<saml:Assertion ", forge::assertion(&evil, "")));
    e.refused(&b, &xml, None, "assertion_count", &["2 assertions"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_audience_recipient_destination_issuer_and_in_response_to_are_refused() {
    let e = setup(vec![]).await;
    type Tamper = Box<dyn Fn(&mut Claims)>;
    let cases: Vec<(&str, Tamper, Vec<&str>)> = vec![
        ("Audience", Box::new(|c| c.audience = "https://other-sp.example/metadata".into()), vec!["https://other-sp.example/metadata", "expected"]),
        ("Recipient", Box::new(|c| c.recipient = "https://other-sp.example/acs".into()), vec!["https://other-sp.example/acs"]),
        ("Destination", Box::new(|c| c.destination = "https://other-sp.example/acs".into()), vec!["https://other-sp.example/acs"]),
        ("Issuer", Box::new(|c| c.issuer = "https://evil-idp.example".into()), vec!["https://evil-idp.example", IDP]),
        ("InResponseTo", Box::new(|c| c.in_response_to = Some("_someone-elses-request".into())), vec!["_someone-elses-request"]),
        ("InResponseTo", Box::new(|c| c.in_response_to = None), vec!["IdP-initiated"]),
    ];
    for (check, change, words) in cases {
        let (b, mut c) = e.start().await;
        change(&mut c);
        e.refused(&b, &forge::signed_response(&c, &e.signer, true), None, check, &words).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_not_yet_valid_and_replayed_assertions_are_refused() {
    let e = setup(vec![]).await;
    let (b, mut c) = e.start().await;
    c.not_before = -900;
    c.not_on_or_after = -400;
    e.refused(&b, &forge::signed_response(&c, &e.signer, true), None, "NotOnOrAfter", &["expired"]).await;
    let (b, mut c) = e.start().await;
    c.not_before = 600;
    c.not_on_or_after = 900;
    e.refused(&b, &forge::signed_response(&c, &e.signer, true), None, "NotBefore", &["not valid"]).await;
    // Within 3 minutes of skew: accepted.
    let (b, mut c) = e.start().await;
    c.not_before = 120;
    assert_eq!(e.post(&b, &forge::signed_response(&c, &e.signer, true), None).await.0, 303);
    // Replay: the same assertion in a new sign-in of another browser.
    let (b, c) = e.start().await;
    let xml = forge::signed_response(&c, &e.signer, true);
    assert_eq!(e.post(&b, &xml, None).await.0, 303);
    let (b2, _) = e.start().await;
    // (InResponseTo no longer matches b2's request, so rebuild with b2's id
    // but the same assertion id, signed again: the assertion id is what is spent.)
    let resp = b2.http.get(e.srv.url("/auth/saml/login")).send().await.unwrap();
    let id2 = forge::request_id(resp.headers()["location"].to_str().unwrap());
    let mut again = c.clone();
    again.in_response_to = Some(id2);
    e.refused(&b2, &forge::signed_response(&again, &e.signer, true), None, "replay", &["already used"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parser_attacks_and_off_site_relay_state_are_refused() {
    let e = setup(vec![]).await;
    // A comment inside the NameID of a validly signed response: exclusive
    // canonicalization drops comments, so the signature still verifies.
    let (b, c) = e.start().await;
    let xml = forge::signed_response(&c, &e.signer, true).replace(">mallory-subject<", ">mallory-subject<!--x-->.admin<");
    e.refused(&b, &xml, None, "comment", &["comment"]).await;
    // DOCTYPE with entities (billion laughs).
    let (b, c) = e.start().await;
    let xml = forge::signed_response(&c, &e.signer, true);
    let bomb = format!("<?xml version=\"1.0\"?><!DOCTYPE r [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\">]>{xml}");
    e.refused(&b, &bomb, None, "doctype", &["DOCTYPE"]).await;
    // Oversized.
    let (b, c) = e.start().await;
    let big = forge::signed_response(&c, &e.signer, true).replace("</samlp:Response>", &format!("<samlp:Extensions>{}</samlp:Extensions></samlp:Response>", "x".repeat(300 * 1024)));
    e.refused(&b, &big, None, "size", &["bytes"]).await;
    // Off-site RelayState, with an otherwise valid response.
    let (b, c) = e.start().await;
    e.refused(&b, &forge::signed_response(&c, &e.signer, true), Some("https://evil.example/phish"), "relay_state", &["evil.example"]).await;
    let (b, c) = e.start().await;
    e.refused(&b, &forge::signed_response(&c, &e.signer, true), Some("//evil.example/x"), "relay_state", &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_rollover_in_the_metadata_is_followed_at_refresh() {
    let e = setup(vec![("SAML_METADATA_REFRESH", "1s".into())]).await;
    let next = Signer::stranger();
    // The new key is not trusted before the metadata lists it.
    let (b, c) = e.start().await;
    e.refused(&b, &forge::signed_response(&c, &next, true), None, "signature", &["not the one in the IdP's metadata"]).await;
    // During the rollover both certificates are listed: either signs in.
    std::fs::write(&e.metadata, forge::metadata_pinning(IDP, "https://idp.forge.example/sso", &[&e.signer, &next])).unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    for signer in [&e.signer, &next] {
        let (b, c) = e.start().await;
        let (status, body) = e.post(&b, &forge::signed_response(&c, signer, true), None).await;
        assert_eq!(status, 303, "{body}");
    }
    // After it, the old certificate is no longer trusted.
    std::fs::write(&e.metadata, forge::metadata_pinning(IDP, "https://idp.forge.example/sso", &[&next])).unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    let (b, c) = e.start().await;
    e.refused(&b, &forge::signed_response(&c, &e.signer, true), None, "signature", &["not the one in the IdP's metadata"]).await;
    // A broken metadata file keeps the certificates already pinned.
    std::fs::write(&e.metadata, "<not metadata").unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    let (b, c) = e.start().await;
    assert_eq!(e.post(&b, &forge::signed_response(&c, &next, true), None).await.0, 303);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entra_id_over_saml_reads_its_claim_uris_and_requires_a_role() {
    let e = setup_provider("entra_id", vec![]).await;
    let entra = |c: &mut Claims| {
        c.email_attribute = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress";
        c.role_attribute = "http://schemas.microsoft.com/ws/2008/06/identity/claims/role";
        c.name_id = "alice.upn@contoso.example".into();
        c.email = "alice@contoso.example".into();
        c.extra_attributes = vec![
            ("http://schemas.microsoft.com/identity/claims/displayname", "Alice Contoso".into()),
            ("http://schemas.microsoft.com/identity/claims/objectidentifier", "0d1f5b2e-0000-4000-8000-00000000a11c".into()),
        ];
    };
    let (b, mut c) = e.start().await;
    entra(&mut c);
    c.roles = vec!["factory-admin".into()];
    let (status, body) = e.post(&b, &forge::signed_response(&c, &e.signer, true), None).await;
    assert_eq!(status, 303, "{body}");
    let me: serde_json::Value = b.http.get(e.srv.url("/api/v1/me")).send().await.unwrap().json().await.unwrap();
    assert_eq!(me["user"]["email"], "alice@contoso.example", "{me}");
    assert_eq!(me["user"]["display_name"], "Alice Contoso");
    assert_eq!(me["user"]["factory_admin"], true);
    assert_eq!(me["session"]["provider"], "entra_id");
    // The account is keyed on the object id, not the (changeable) UPN.
    let user = e.srv.state.store.find_user_by_idp(IDP, "0d1f5b2e-0000-4000-8000-00000000a11c").await.unwrap();
    assert_eq!(user.map(|u| u.email), Some("alice@contoso.example".into()));
    // Without the member or factory-admin role: 403 with the guide's advice, no session.
    let (b, mut c) = e.start().await;
    entra(&mut c);
    c.roles = vec![];
    let (status, body) = e.post(&b, &forge::signed_response(&c, &e.signer, true), None).await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("not_assigned"), "{body}");
    assert_eq!(b.http.get(e.srv.url("/api/v1/me")).send().await.unwrap().status(), 401);
}

/// Security review item 9: what SAML requires to be present. Profiles
/// §4.1.4.2: an AudienceRestriction naming this SP; Bindings §3.5.5.2: a
/// signed Response names its Destination. And a wrong InResponseTo in the
/// assertion is reported with the value that was compared.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_audience_restriction_conditions_or_signed_destination_are_refused() {
    let e = setup(vec![]).await;
    let cut = |xml: String, from: &str, to: &str| {
        let (a, b) = (xml.find(from).unwrap(), xml.find(to).unwrap() + to.len());
        format!("{}{}", &xml[..a], &xml[b..])
    };
    // No AudienceRestriction in the Conditions.
    let (b, c) = e.start().await;
    let xml = forge::signed_response_edited(&c, &e.signer, true, |a| cut(a, "<saml:AudienceRestriction>", "</saml:AudienceRestriction>"), |r| r);
    e.refused(&b, &xml, None, "Audience", &["no AudienceRestriction", "Expected one naming"]).await;
    // No Conditions at all.
    let (b, c) = e.start().await;
    let xml = forge::signed_response_edited(&c, &e.signer, true, |a| cut(a, "<saml:Conditions", "</saml:Conditions>"), |r| r);
    e.refused(&b, &xml, None, "Audience", &["no Conditions"]).await;
    // A signed Response without Destination.
    let (b, c) = e.start().await;
    let no_destination = |r: String| r.replacen(&format!(" Destination=\"{}\"", c.destination), "", 1);
    let xml = forge::signed_response_edited(&c, &e.signer, true, |a| a, no_destination);
    assert!(!xml[..xml.find("<saml:Issuer").unwrap()].contains("Destination="), "the forged Response has no Destination");
    e.refused(&b, &xml, None, "Destination", &["names no Destination", "Bindings §3.5.5.2"]).await;
    // Unsigned, the Response may leave it out (the assertion is signed).
    let (b, c) = e.start().await;
    let no_destination = |r: String| r.replacen(&format!(" Destination=\"{}\"", c.destination), "", 1);
    let xml = forge::signed_response_edited(&c, &e.signer, false, |a| a, no_destination);
    assert_eq!(e.post(&b, &xml, None).await.0, 303);
    // The assertion answers another request than the Response says.
    let (b, c) = e.start().await;
    let irt = c.in_response_to.clone().unwrap();
    let xml = forge::signed_response_edited(&c, &e.signer, true, |a| a.replace(&format!("InResponseTo=\"{irt}\""), "InResponseTo=\"_another-request\""), |r| r);
    e.refused(&b, &xml, None, "InResponseTo", &["The assertion answers `_another-request`", &format!("expected `{irt}`")]).await;
}

/// Security review item 11: a SAML sign-in ends the session the browser
/// held, although the IdP's POST to the ACS is cross-site and carries no
/// SameSite=Lax session cookie: the session starts on the same-site
/// redirect that follows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_saml_sign_in_ends_the_session_the_browser_held() {
    use reqwest::cookie::CookieStore;
    let e = setup(vec![]).await;
    let (b, c) = e.start().await;
    assert_eq!(e.post(&b, &forge::signed_response(&c, &e.signer, true), None).await.0, 303);
    let url: reqwest::Url = e.srv.url("/").parse().unwrap();
    let session_of = |b: &crate::support::saml_peer::Browser| {
        b.jar.cookies(&url).unwrap().to_str().unwrap().split("; ").find(|c| c.starts_with("portcullis_session=")).unwrap().to_owned()
    };
    let first = session_of(&b);
    // Signed in again in the same browser (SP-initiated, then IdP-initiated would do the same).
    let resp = b.http.get(e.srv.url("/auth/saml/login")).send().await.unwrap();
    let id = forge::request_id(resp.headers()["location"].to_str().unwrap());
    let mut again = c.clone();
    again.in_response_to = Some(id);
    again.assertion_id = format!("{}-2", c.assertion_id);
    again.response_id = format!("{}-2", c.response_id);
    assert_eq!(e.post(&b, &forge::signed_response(&again, &e.signer, true), None).await.0, 303);
    let second = session_of(&b);
    assert_ne!(first, second, "the session id changed");
    let with = |cookie: &str| reqwest::Client::new().get(e.srv.url("/api/v1/me")).header("cookie", cookie.to_owned()).send();
    assert_eq!(with(&first).await.unwrap().status(), 401, "the session the browser held before was ended");
    assert_eq!(with(&second).await.unwrap().status(), 200);
    // The hand-over cookie works once, in the browser it was given to.
    let done = b.http.get(e.srv.url("/auth/saml/complete")).header("accept", "application/json").send().await.unwrap();
    assert_eq!(done.status(), 400, "{}", done.text().await.unwrap());
}

//! The kept-key provider against the stock one: the same answers (valid,
//! tampered, wrong key, wrong family, short modulus), and its cache keeps
//! keys, algorithms and exponents apart and stays bounded.

use super::*;
use jsonwebtoken::{decode, encode, EncodingKey, Header, Validation};
use serde_json::{json, Value};

fn keys() -> Value {
    serde_json::from_str(include_str!("../../tests/fixtures/hostile-idp-keys.json")).unwrap()
}

fn jwk_key(name: &str) -> DecodingKey {
    let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(keys()[name]["jwk"].clone()).unwrap();
    DecodingKey::from_jwk(&jwk).unwrap()
}

fn signed(name: &str, alg: Algorithm) -> String {
    // Before the first encode: that would settle the process's provider.
    install();
    let pem = keys()[name]["private_pem"].as_str().unwrap().to_owned();
    let key = match alg {
        Algorithm::ES256 => EncodingKey::from_ec_pem(pem.as_bytes()).unwrap(),
        _ => EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap(),
    };
    encode(&Header::new(alg), &json!({"sub": "dave", "exp": 4_000_000_000u64}), &key).unwrap()
}

fn check(token: &str, key: &DecodingKey, alg: Algorithm) -> Result<Value, ErrorKind> {
    install();
    assert!(installed(), "the kept-key provider is the process's");
    let mut v = Validation::new(alg);
    v.required_spec_claims.clear();
    v.validate_aud = false;
    decode::<Value>(token, key, &v).map(|d| d.claims).map_err(|e| e.into_kind())
}

#[test]
fn a_valid_rs256_token_verifies_from_its_jwk_and_its_pem() {
    let token = signed("k1", Algorithm::RS256);
    assert_eq!(check(&token, &jwk_key("k1"), Algorithm::RS256).unwrap()["sub"], "dave");
    // Twice: the second check is served by the kept parsing.
    assert_eq!(check(&token, &jwk_key("k1"), Algorithm::RS256).unwrap()["sub"], "dave");
    let pem = DecodingKey::from_rsa_pem(keys()["k1"]["public_pem"].as_str().unwrap().as_bytes()).unwrap();
    assert_eq!(check(&token, &pem, Algorithm::RS256).unwrap()["sub"], "dave");
}

#[test]
fn a_tampered_token_or_another_key_is_refused_even_with_the_key_kept() {
    let token = signed("k1", Algorithm::RS256);
    check(&token, &jwk_key("k1"), Algorithm::RS256).unwrap();
    let (rest, sig) = token.rsplit_once('.').unwrap();
    let mut bytes = sig.as_bytes().to_vec();
    bytes[10] = if bytes[10] == b'A' { b'B' } else { b'A' };
    let tampered = format!("{rest}.{}", String::from_utf8(bytes).unwrap());
    assert_eq!(check(&tampered, &jwk_key("k1"), Algorithm::RS256), Err(ErrorKind::InvalidSignature));
    assert_eq!(check(&token, &jwk_key("k2"), Algorithm::RS256), Err(ErrorKind::InvalidSignature));
}

#[test]
fn a_key_kept_for_one_algorithm_or_exponent_is_not_used_for_another() {
    let rs = signed("k1", Algorithm::RS256);
    let ps = signed("k1", Algorithm::PS256);
    // Kept for RS256 first; PS256 gets its own parsing and still verifies.
    check(&rs, &jwk_key("k1"), Algorithm::RS256).unwrap();
    check(&ps, &jwk_key("k1"), Algorithm::PS256).unwrap();
    // The same modulus with another exponent is another key.
    let jwk = &keys()["k1"]["jwk"];
    let other_e = DecodingKey::from_rsa_components(jwk["n"].as_str().unwrap(), "Aw").unwrap();
    assert_eq!(check(&rs, &other_e, Algorithm::RS256), Err(ErrorKind::InvalidSignature));
    check(&rs, &jwk_key("k1"), Algorithm::RS256).unwrap();
}

#[test]
fn an_ec_key_is_no_rsa_key_and_ec_tokens_verify_as_before() {
    let es = signed("e1", Algorithm::ES256);
    assert_eq!(check(&es, &jwk_key("e1"), Algorithm::ES256).unwrap()["sub"], "dave");
    assert_eq!(check(&signed("k1", Algorithm::RS256), &jwk_key("e1"), Algorithm::RS256), Err(ErrorKind::InvalidKeyFormat));
}

#[test]
fn a_modulus_under_2048_bits_is_refused() {
    use base64::Engine;
    use rsa::pkcs1::EncodeRsaPublicKey;
    use rsa::signature::{SignatureEncoding, Signer};
    let private = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 1024).unwrap();
    let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    let message = format!("{}.{}", b64(br#"{"alg":"RS256","typ":"JWT"}"#), b64(br#"{"sub":"dave"}"#));
    let signature = rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new(private.clone()).sign(message.as_bytes());
    let token = format!("{message}.{}", b64(&signature.to_bytes()));
    // A good signature, by the RSA crate's own verifier: only the size is wrong.
    use rsa::signature::Verifier;
    rsa::pkcs1v15::VerifyingKey::<sha2::Sha256>::new(private.to_public_key()).verify(message.as_bytes(), &signature).unwrap();
    let public = DecodingKey::from_rsa_der(private.to_public_key().to_pkcs1_der().unwrap().as_bytes());
    assert!(check(&token, &public, Algorithm::RS256).is_err(), "a 1024-bit key must not verify");
}

#[test]
fn the_cache_stays_bounded_when_keys_churn() {
    let n = keys()["k1"]["jwk"]["n"].as_str().unwrap().to_owned();
    for i in 0..(MAX_KEYS as u32 * 2) {
        // Odd exponents: each one another key for the same modulus.
        let e = (3 + 2 * i).to_be_bytes();
        let e = &e[e.iter().position(|b| *b != 0).unwrap()..];
        let key = DecodingKey::from_rsa_raw_components(&base64_decode(&n), e);
        verifier(&Algorithm::RS256, &key).unwrap();
        assert!(PARSED.read().unwrap().len() <= MAX_KEYS);
    }
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(s).unwrap()
}

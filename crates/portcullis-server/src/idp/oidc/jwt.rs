//! Verifying JWTs that `openidconnect` does not model (back-channel logout
//! tokens, access tokens presented as bearer tokens) with `jsonwebtoken`,
//! against a provider's published keys only.

use crate::config::oidc::Issuer;
use super::jwks::{JwtKey, KeySet};
use super::discovery::Discovered;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};

/// Clock skew tolerated on `exp`, `nbf` and `iat` (RFC 7519 §4.1.4 allows
/// "some small leeway"), for every JWT this server checks.
pub const LEEWAY_SECS: i64 = 60;

/// Asymmetric algorithms only: no `none` (not even representable in
/// `jsonwebtoken`) and no HMAC.
pub const ALGS: &[Algorithm] = &[
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// Why a JWT was refused, in words for an error description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwtError {
    /// Not a JWS, a disallowed algorithm, no matching key or a bad signature.
    Signature(String),
    Audience,
    Issuer,
    Expired,
    NotYetValid,
    /// A required claim is missing or malformed.
    Claims(String),
}

impl std::fmt::Display for JwtError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            JwtError::Signature(s) => write!(f, "Signature verification failed ({s})"),
            JwtError::Audience => f.write_str("audience mismatch"),
            JwtError::Issuer => f.write_str("wrong issuer"),
            JwtError::Expired => f.write_str("token expired"),
            JwtError::NotYetValid => f.write_str("token not yet valid"),
            JwtError::Claims(s) => f.write_str(s),
        }
    }
}

fn find_key<'a>(keys: &'a KeySet, kid: Option<&str>, alg: Algorithm) -> Option<&'a JwtKey> {
    use jsonwebtoken::jwk::AlgorithmParameters as P;
    let fits = |k: &&JwtKey| {
        let k = &k.jwk;
        let family_ok = matches!(
            (&k.algorithm, alg),
            (P::RSA(_), Algorithm::RS256 | Algorithm::RS384 | Algorithm::RS512 | Algorithm::PS256 | Algorithm::PS384 | Algorithm::PS512)
                | (P::EllipticCurve(_), Algorithm::ES256 | Algorithm::ES384)
                | (P::OctetKeyPair(_), Algorithm::EdDSA)
        );
        family_ok && !matches!(k.common.public_key_use, Some(jsonwebtoken::jwk::PublicKeyUse::Encryption))
    };
    match kid {
        Some(kid) => keys.jwt.iter().filter(fits).find(|k| k.jwk.common.key_id.as_deref() == Some(kid)),
        None => {
            // Without a kid, only an unambiguous key will do.
            let mut candidates = keys.jwt.iter().filter(fits);
            let first = candidates.next();
            candidates.next().is_none().then_some(first).flatten()
        }
    }
}

/// Checks `exp` (required or not), `nbf` and `iat` against the injected
/// clock (`now_secs`), with `leeway` seconds either way (RFC 7519 §4.1.4-6).
pub fn check_times(claims: &serde_json::Value, now_secs: i64, leeway: i64, exp_required: bool) -> Result<(), JwtError> {
    let num = |name: &str| claims.get(name).map(|v| v.as_i64().ok_or_else(|| JwtError::Claims(format!("`{name}` is not a number"))));
    match num("exp").transpose()? {
        Some(exp) if exp + leeway < now_secs => return Err(JwtError::Expired),
        None if exp_required => return Err(JwtError::Claims("the token has no `exp` claim".into())),
        _ => {}
    }
    if num("nbf").transpose()?.is_some_and(|nbf| nbf > now_secs + leeway) {
        return Err(JwtError::NotYetValid);
    }
    if num("iat").transpose()?.is_some_and(|iat| iat > now_secs + leeway) {
        return Err(JwtError::Claims("the token was issued in the future (`iat`); check the clocks".into()));
    }
    Ok(())
}

/// Verifies the signature (refetching the keys once on an unknown `kid`),
/// `iss` and `aud`, and that the `required` claims are present. Times are
/// the caller's to check with [`check_times`] (against the injected clock).
/// The claims, and the header (read once here, for the callers' `typ` checks).
pub async fn verify(d: &Discovered, http: &reqwest::Client, token: &str, issuer: &Issuer, audience: &str, required: &[&str]) -> Result<(serde_json::Value, jsonwebtoken::Header), JwtError> {
    let header = jsonwebtoken::decode_header(token).map_err(|e| JwtError::Signature(format!("not a signed JWT: {e}")))?;
    if !ALGS.contains(&header.alg) {
        return Err(JwtError::Signature(format!("algorithm {:?} is not allowed", header.alg)));
    }
    let mut keys = d.jwks.keys();
    let no_key = || JwtError::Signature(format!("no signing key matches kid {}", header.kid.as_deref().unwrap_or("(none)")));
    if find_key(&keys, header.kid.as_deref(), header.alg).is_none() {
        keys = d.jwks.refresh_for_unknown_key(http, keys.generation).await.ok_or_else(no_key)?;
    }
    let key: &DecodingKey = &find_key(&keys, header.kid.as_deref(), header.alg).ok_or_else(no_key)?.key;
    let mut v = Validation::new(header.alg);
    v.set_issuer(&[issuer.as_str()]);
    v.set_audience(&[audience]);
    v.validate_exp = false;
    v.validate_nbf = false;
    v.set_required_spec_claims(required);
    jsonwebtoken::decode::<serde_json::Value>(token, key, &v).map(|d| (d.claims, d.header)).map_err(|e| {
        use jsonwebtoken::errors::ErrorKind::*;
        match e.kind() {
            InvalidAudience => JwtError::Audience,
            InvalidIssuer => JwtError::Issuer,
            ExpiredSignature => JwtError::Expired,
            ImmatureSignature => JwtError::NotYetValid,
            MissingRequiredClaim(c) => JwtError::Claims(format!("the token has no `{c}` claim")),
            InvalidSignature | InvalidAlgorithm | InvalidKeyFormat | InvalidRsaKey(_) | InvalidEcdsaKey | InvalidEddsaKey | UnsupportedAlgorithm | Base64(_) | Provider(_) | InvalidToken => {
                JwtError::Signature(format!("{e}"))
            }
            _ => JwtError::Claims(format!("{e}")),
        }
    })
}

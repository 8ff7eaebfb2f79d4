//! Who signed in: the ID token checked as OpenID Connect Core §3.1.3.7 says,
//! merged with userinfo (§5.3) when the token lacks claims we need.

use crate::idp::vendors::VendorOf;
use super::error::SignInError;
use crate::idp::oidc::jwks::KeySet;
use crate::idp::oidc::Discovered;
use crate::idp::vendors::OidcSettings;
use base64::Engine;
use openidconnect::core::{CoreGenderClaim, CoreIdToken, CoreIdTokenVerifier, CoreJwsSigningAlgorithm};
use openidconnect::{AdditionalClaims, ClaimsVerificationError, ClientId, ClientSecret, IssuerUrl, Nonce, SignatureVerificationError, UserInfoClaims};
use portcullis_domain::Timestamp;
use secrecy::ExposeSecret;
use std::collections::HashMap;

/// Signature algorithms accepted in ID tokens: asymmetric only. `none` and
/// the HMAC family are refused (an HMAC "signed" with a provider's public
/// key is the classic key-confusion forgery).
pub const ALLOWED_ALGS: &[CoreJwsSigningAlgorithm] = &[
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha384,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha512,
    CoreJwsSigningAlgorithm::RsaSsaPssSha256,
    CoreJwsSigningAlgorithm::RsaSsaPssSha384,
    CoreJwsSigningAlgorithm::RsaSsaPssSha512,
    CoreJwsSigningAlgorithm::EcdsaP256Sha256,
    CoreJwsSigningAlgorithm::EcdsaP384Sha384,
    CoreJwsSigningAlgorithm::EdDsa,
];

/// How far in the future `iat` may be (clock skew between us and the IdP).
const MAX_SKEW_SECS: i64 = 60;

/// Claims other than the standard ones (roles, groups, `sid`...), kept as JSON.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct OtherClaims(HashMap<String, serde_json::Value>);
impl AdditionalClaims for OtherClaims {}

/// A verified sign-in.
#[derive(Clone)]
pub struct Identity {
    pub subject: String,
    pub email: String,
    /// Unless the IdP says the address is not verified (`email_verified:
    /// false`): invitations to it are then not applied at sign-in.
    pub email_verified: bool,
    pub name: String,
    pub roles: Vec<String>,
    /// Every claim the provider sent (ID token merged with userinfo; for
    /// SAML, each attribute as a list of its values), for group rules that
    /// read a claim path.
    pub claims: serde_json::Value,
    /// The IdP session (for back-channel logout).
    pub sid: Option<String>,
    /// The ID token as received, for `id_token_hint` at logout.
    pub id_token: String,
    /// Where to list the groups the provider left out of the token for
    /// size (Entra ID's group overage), when it did.
    pub group_overage: Option<std::sync::Arc<crate::idp::vendors::entra_id_overage::GroupOverage>>,
}

/// The JOSE header and payload, unverified: only for error messages and,
/// after verification, for the claims `openidconnect` does not model.
fn segment(jwt: &str, i: usize) -> serde_json::Value {
    jwt.split('.')
        .nth(i)
        .and_then(|s| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(s.trim_end_matches('=')).ok())
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(serde_json::Value::Null)
}

fn short(s: &str) -> String {
    s.chars().take(120).collect()
}

fn verifier<'a>(settings: &OidcSettings, keys: &KeySet, now: Timestamp) -> CoreIdTokenVerifier<'a> {
    let client_id = ClientId::new(settings.client_id.to_string());
    let issuer = IssuerUrl::new(settings.issuer.to_string()).expect("issuer validated at start-up");
    let v = match &settings.client_secret {
        Some(secret) => CoreIdTokenVerifier::new_confidential_client(client_id, ClientSecret::new(secret.expose_secret().to_owned()), issuer, keys.core.clone()),
        None => CoreIdTokenVerifier::new_public_client(client_id, issuer, keys.core.clone()),
    };
    let now_chrono = chrono::DateTime::<chrono::Utc>::from_timestamp_millis(now.0).unwrap_or_default();
    v.set_allowed_algs(ALLOWED_ALGS.iter().cloned())
        .set_time_fn(move || now_chrono)
        .set_issue_time_verifier_fn(move |iat| {
            if (iat - now_chrono).num_seconds() > MAX_SKEW_SECS {
                Err(format!("issued in the future ({iat})"))
            } else {
                Ok(())
            }
        })
}

fn map_claims_error(e: ClaimsVerificationError, raw: &str, settings: &OidcSettings) -> SignInError {
    let header = segment(raw, 0);
    let payload = segment(raw, 1);
    match e {
        ClaimsVerificationError::Expired(_) => SignInError::Expired,
        ClaimsVerificationError::InvalidNonce(_) => SignInError::BadNonce,
        ClaimsVerificationError::InvalidIssuer(_) => SignInError::WrongIssuer {
            got: short(payload.get("iss").and_then(|v| v.as_str()).unwrap_or("(none)")),
            expected: settings.issuer.to_string(),
        },
        ClaimsVerificationError::InvalidAudience(_) => SignInError::AudienceMismatch {
            got: match payload.get("aud") {
                Some(serde_json::Value::String(s)) => vec![short(s)],
                Some(serde_json::Value::Array(a)) => a.iter().filter_map(|v| v.as_str()).map(short).take(5).collect(),
                _ => vec![],
            },
            expected: settings.client_id.to_string(),
        },
        ClaimsVerificationError::SignatureVerification(_) => SignInError::SignatureFailed {
            kid: header.get("kid").and_then(|v| v.as_str()).map(short),
            alg: short(header.get("alg").and_then(|v| v.as_str()).unwrap_or("(none)")),
            hint: settings.vendor().signature_hint(),
        },
        other => SignInError::Malformed(format!("ID token: {other}")),
    }
}

/// Verifies the ID token; on an unknown signing key, refetches the provider's
/// keys once (single-flight, rate-limited) and tries again.
pub async fn verify_id_token(
    settings: &OidcSettings,
    discovered: &Discovered,
    http: &reqwest::Client,
    id_token: &CoreIdToken,
    nonce: &Nonce,
    now: Timestamp,
) -> Result<serde_json::Value, SignInError> {
    let raw = id_token.to_string();
    let mut keys = discovered.jwks.keys();
    let mut retried = false;
    loop {
        let result = id_token.claims(&verifier(settings, &keys, now), nonce).map(|_| ());
        match result {
            Ok(()) => break,
            Err(ClaimsVerificationError::SignatureVerification(SignatureVerificationError::NoMatchingKey)) if !retried => {
                retried = true;
                match discovered.jwks.refresh_for_unknown_key(http, keys.generation).await {
                    Some(newer) => keys = newer,
                    None => return Err(map_claims_error(ClaimsVerificationError::SignatureVerification(SignatureVerificationError::NoMatchingKey), &raw, settings)),
                }
            }
            Err(e) => return Err(map_claims_error(e, &raw, settings)),
        }
    }
    let claims = segment(&raw, 1);
    // §3.1.3.7 steps 4-5: with several audiences `azp` must be present, and
    // when present it must be us.
    let many_audiences = claims.get("aud").and_then(|a| a.as_array()).is_some_and(|a| a.len() > 1);
    match claims.get("azp").and_then(|v| v.as_str()) {
        Some(azp) if azp != settings.client_id => {
            return Err(SignInError::AudienceMismatch { got: vec![format!("azp {}", short(azp))], expected: settings.client_id.to_string() })
        }
        None if many_audiences => return Err(SignInError::Malformed("ID token with several audiences and no azp".into())),
        _ => {}
    }
    Ok(claims)
}

/// Fetches userinfo with the access token; a `sub` other than the ID
/// token's is refused (OpenID Connect Core §5.3.2).
pub async fn userinfo(
    client: &crate::idp::oidc::discovery::Client,
    http: &reqwest::Client,
    access_token: openidconnect::AccessToken,
    subject: &str,
) -> Result<serde_json::Value, SignInError> {
    let request = match client.user_info(access_token, Some(openidconnect::SubjectIdentifier::new(subject.to_owned()))) {
        Ok(r) => r,
        Err(_) => return Ok(serde_json::Value::Null),
    };
    let claims: UserInfoClaims<OtherClaims, CoreGenderClaim> = request.request_async(http).await.map_err(|e| match e {
        openidconnect::UserInfoError::ClaimsVerification(ClaimsVerificationError::InvalidSubject(_)) => SignInError::UserinfoSubjectMismatch,
        openidconnect::UserInfoError::Request(e) => SignInError::Unreachable(format!("userinfo: {e}")),
        other => SignInError::Malformed(format!("userinfo: {other}")),
    })?;
    serde_json::to_value(&claims).map_err(|e| SignInError::Malformed(format!("userinfo: {e}")))
}

fn str_claim<'a>(claims: &'a serde_json::Value, name: &str) -> Option<&'a str> {
    claims.get(name).and_then(|v| v.as_str()).filter(|s| !s.trim().is_empty())
}

/// Whether the claims lack what a sign-in needs (an e-mail address or the
/// roles claim), so that userinfo should be asked.
pub fn needs_userinfo(settings: &OidcSettings, claims: &serde_json::Value) -> bool {
    str_claim(claims, "email").is_none() || !has_roles_claim(settings, claims)
}

/// Whether the claims carry the provider's roles claim at all (an empty
/// list counts: the IdP said "no roles").
pub fn has_roles_claim(settings: &OidcSettings, claims: &serde_json::Value) -> bool {
    claims.get(&settings.roles_claim).is_some() || !crate::idp::vendors::claim_strings(claims, &settings.roles_claim).is_empty()
}

/// Fills claims missing from the ID token with userinfo's.
pub fn merge(mut id_claims: serde_json::Value, userinfo: serde_json::Value) -> serde_json::Value {
    if let (Some(dst), serde_json::Value::Object(src)) = (id_claims.as_object_mut(), userinfo) {
        for (k, v) in src {
            if !v.is_null() {
                dst.entry(k).or_insert(v);
            }
        }
    }
    id_claims
}

/// The e-mail address in the claims: `email`, else an address-shaped
/// `preferred_username` or `upn` (Entra ID).
pub fn email(claims: &serde_json::Value) -> Option<String> {
    str_claim(claims, "email")
        .or_else(|| str_claim(claims, "preferred_username").filter(|u| u.contains('@')))
        .or_else(|| str_claim(claims, "upn"))
        .map(|e| e.chars().take(320).collect())
}

/// The identity in the merged claims.
pub fn identity(settings: &OidcSettings, claims: &serde_json::Value, id_token: String) -> Result<Identity, SignInError> {
    let subject = str_claim(claims, "sub").ok_or_else(|| SignInError::Malformed("no sub".into()))?.to_owned();
    let email = email(claims)
        .ok_or_else(|| SignInError::Malformed("neither the ID token nor userinfo has an e-mail address (ask for the email scope)".into()))?;
    let name = str_claim(claims, "name")
        .map(str::to_owned)
        .or_else(|| match (str_claim(claims, "given_name"), str_claim(claims, "family_name")) {
            (Some(g), Some(f)) => Some(format!("{g} {f}")),
            (Some(g), None) => Some(g.to_owned()),
            _ => None,
        })
        .unwrap_or_else(|| email.clone());
    Ok(Identity {
        email_verified: claims.get("email_verified").and_then(|v| v.as_bool().or_else(|| v.as_str().map(|s| s == "true"))).unwrap_or(true),
        roles: settings.vendor().roles(settings, claims),
        claims: claims.clone(),
        sid: str_claim(claims, "sid").map(str::to_owned),
        subject,
        email,
        name: name.chars().take(200).collect(),
        id_token,
        group_overage: None,
    })
}

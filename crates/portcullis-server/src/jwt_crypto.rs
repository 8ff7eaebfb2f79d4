//! The cryptography under every JWT this server verifies (`jsonwebtoken`'s
//! process-wide `CryptoProvider`): the crate's own aws-lc-rs provider, with
//! one change: RSA public keys are parsed once and kept.
//!
//! Why: a CLI that sends a fresh access token per request costs one RS256
//! verification (RFC 7518 §3.3) each. The stock provider hands aws-lc the
//! key's `n` and `e` on every call, so each verification rebuilds the key and
//! its Montgomery constants before the 17 modular multiplications that are
//! the verification proper. Kept parsed (`aws_lc_rs::signature::ParsedPublicKey`),
//! a key costs that once. The signature check itself stays aws-lc's; nothing
//! here is cryptography of our own.
//!
//! Which keys are trusted is not decided here: callers pick the key (by
//! `kid`, from the provider's published set or this server's own key) and the
//! algorithm allow-list before `jsonwebtoken::decode` asks this provider for a
//! verifier. The cache only remembers parsings of keys it was given, bounded
//! by [`MAX_KEYS`].

use aws_lc_rs::signature::{self as sig, ParsedPublicKey, RsaParameters, RsaPublicKeyComponents};
use jsonwebtoken::crypto::{aws_lc::DEFAULT_PROVIDER as AWS_LC, CryptoProvider, JwtVerifier};
use jsonwebtoken::errors::{Error, ErrorKind};
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, DecodingKeyKind};
use std::collections::HashMap;
use std::sync::{Arc, LazyLock, RwLock};

/// Parsed keys kept at most: identity providers publish a handful (current
/// and next during a rotation), plus this server's own. Past the bound the
/// cache starts over, so a key set that churns costs parsing, never memory.
pub const MAX_KEYS: usize = 64;

/// The provider: aws-lc-rs's, with RSA verifiers from [`verifier`].
/// (Built at first use: the stock provider's other parts are not `Copy`.)
pub static PROVIDER: LazyLock<CryptoProvider> = LazyLock::new(|| CryptoProvider { verifier_factory: verifier, ..AWS_LC.clone() });

/// Makes [`PROVIDER`] the process's. Idempotent; call it before the first
/// JWT is handled (`main`, and `crate::app` for servers built in tests). If
/// another provider was installed first, that one stays: it is the crate's
/// stock aws-lc-rs provider (the only backend enabled), correct and slower.
pub fn install() {
    let _ = LazyLock::force(&PROVIDER).install_default();
}

/// Whether [`PROVIDER`] is the process's provider.
pub fn installed() -> bool {
    CryptoProvider::try_get_default().is_some_and(|p| std::ptr::eq(p, &*PROVIDER))
}

/// aws-lc-rs's parameters for an RSA JWS algorithm (the same as the stock
/// provider's: moduli of 2048 to 8192 bits).
fn rsa_parameters(alg: Algorithm) -> Option<&'static RsaParameters> {
    Some(match alg {
        Algorithm::RS256 => &sig::RSA_PKCS1_2048_8192_SHA256,
        Algorithm::RS384 => &sig::RSA_PKCS1_2048_8192_SHA384,
        Algorithm::RS512 => &sig::RSA_PKCS1_2048_8192_SHA512,
        Algorithm::PS256 => &sig::RSA_PSS_2048_8192_SHA256,
        Algorithm::PS384 => &sig::RSA_PSS_2048_8192_SHA384,
        Algorithm::PS512 => &sig::RSA_PSS_2048_8192_SHA512,
        _ => return None,
    })
}

/// What identifies a parsed key: the algorithm (a `ParsedPublicKey` is bound
/// to its parameters) and the key's bytes, tagged by form so a modulus can
/// never be taken for a DER document.
type CacheKey = (Algorithm, Vec<u8>);

static PARSED: LazyLock<RwLock<HashMap<CacheKey, Arc<ParsedPublicKey>>>> = LazyLock::new(Default::default);

fn cache_key(alg: Algorithm, key: &DecodingKey) -> CacheKey {
    let mut bytes = Vec::new();
    match key.kind() {
        DecodingKeyKind::RsaModulusExponent { n, e } => {
            bytes.reserve(5 + n.len() + e.len());
            bytes.push(0);
            bytes.extend_from_slice(&(n.len() as u32).to_be_bytes());
            bytes.extend_from_slice(n);
            bytes.extend_from_slice(e);
        }
        DecodingKeyKind::SecretOrDer(der) => {
            bytes.reserve(1 + der.len());
            bytes.push(1);
            bytes.extend_from_slice(der);
        }
    }
    (alg, bytes)
}

fn parse(params: &'static RsaParameters, key: &DecodingKey) -> Result<ParsedPublicKey, Error> {
    let rejected = |e: aws_lc_rs::error::KeyRejected| Error::from(ErrorKind::InvalidRsaKey(e.to_string()));
    match key.kind() {
        DecodingKeyKind::RsaModulusExponent { n, e } => RsaPublicKeyComponents { n, e }.to_parsed_public_key(params).map_err(rejected),
        DecodingKeyKind::SecretOrDer(der) => ParsedPublicKey::new(params, der).map_err(rejected),
    }
}

/// The parsed form of an RSA `key` for `alg`, from the cache or parsed now.
fn parsed(alg: Algorithm, params: &'static RsaParameters, key: &DecodingKey) -> Result<Arc<ParsedPublicKey>, Error> {
    let id = cache_key(alg, key);
    if let Some(k) = PARSED.read().unwrap_or_else(|p| p.into_inner()).get(&id) {
        return Ok(k.clone());
    }
    let k = Arc::new(parse(params, key)?);
    let mut cache = PARSED.write().unwrap_or_else(|p| p.into_inner());
    if cache.len() >= MAX_KEYS {
        cache.clear();
    }
    Ok(cache.entry(id).or_insert(k).clone())
}

/// `verifier_factory`: RSA algorithms on a kept parsing; every other
/// algorithm (EC, EdDSA, HMAC) exactly as the stock aws-lc-rs provider does.
fn verifier(alg: &Algorithm, key: &DecodingKey) -> Result<Box<dyn JwtVerifier>, Error> {
    match rsa_parameters(*alg) {
        Some(params) => {
            // The stock provider's check: an EC or HMAC key is no RSA key.
            if key.family() != AlgorithmFamily::Rsa {
                return Err(ErrorKind::InvalidKeyFormat.into());
            }
            Ok(Box::new(KeptRsaKey { alg: *alg, key: parsed(*alg, params, key)? }))
        }
        None => (AWS_LC.verifier_factory)(alg, key),
    }
}

struct KeptRsaKey {
    alg: Algorithm,
    key: Arc<ParsedPublicKey>,
}

impl jsonwebtoken::signature::Verifier<Vec<u8>> for KeptRsaKey {
    fn verify(&self, msg: &[u8], signature: &Vec<u8>) -> Result<(), jsonwebtoken::signature::Error> {
        self.key.verify_sig(msg, signature).map_err(jsonwebtoken::signature::Error::from_source)
    }
}

impl JwtVerifier for KeptRsaKey {
    fn algorithm(&self) -> Algorithm {
        self.alg
    }
}

#[cfg(test)]
mod tests;

//! OpenID Connect providers: discovery, signing keys and token verification.

pub mod discovery;
pub mod jwks;
pub mod jwt;
pub mod sign_in;

pub use discovery::{Discovered, Provider};

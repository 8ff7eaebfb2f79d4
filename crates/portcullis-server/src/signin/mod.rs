//! Signing in: every way a person or a token proves who they are, and the
//! one path every success goes through.

pub mod bearer;
pub mod bearer_cache;
pub mod caller;
pub mod choose;
pub mod complete;
pub mod federated;
pub mod invite;
pub mod local;
pub mod provision;
pub mod group_rules;
pub mod role_mapping;
pub mod saml_complete;
pub mod setup;
pub mod test_sign_in;
pub mod throttle;

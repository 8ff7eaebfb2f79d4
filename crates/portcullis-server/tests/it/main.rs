//! The server's integration tests, in one binary so that the server and
//! `support/` (the real peers: `oidc-provider`, SimpleSAMLphp, a headless
//! Chromium, and the misbehaving peers of our own) compile and link once.
//! Each module is one area. Two stay binaries of their own: `idp_tls` sets a
//! process-wide environment variable (`SSL_CERT_FILE`), and `password_flood`
//! reads this process's peak resident memory.

#[path = "../support/mod.rs"]
mod support;
#[path = "../upstream/mod.rs"]
mod upstream;

mod admin;
mod automation_tls;
mod automations;
mod database_outage;
mod entra_overage;
mod bearer;
mod invitations_idp;
mod local_oauth;
mod replicas;
mod metrics;
mod request_origin;
mod group_rules;
mod role_mapping;
mod saml;
mod scim;
mod scim_deprovisioning;
mod saml_attacks;
mod saml_logout;
mod saml_wrapping;
mod server_binary;
mod sessions;
mod sso_hostile;
mod sso_providers;

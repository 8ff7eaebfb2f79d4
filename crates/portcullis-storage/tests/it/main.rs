//! The storage conformance suite, in one binary: every test runs against
//! SQLite and PostgreSQL (`support::each_backend`).

#[path = "../support/mod.rs"]
mod support;

mod conformance;
mod group_rules;
mod idp_accounts;
mod migrations;
mod oauth;
mod scim;
mod usage;

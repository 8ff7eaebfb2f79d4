//! Portcullis wire types and a typed HTTP client.
//!
//! The server serializes these types and the client deserializes them, so
//! the two cannot drift apart; the CLI and the end-to-end tests both use
//! [`Client`], and [`device`] for logging in with the device flow.
//!
//! This crate builds with Rust and a C compiler alone (rustls; no C
//! libraries beyond what `ring` and `aws-lc-rs`, jsonwebtoken's backend,
//! compile themselves), so that the CLI that depends on it does too.

pub mod client;
pub mod device;
pub mod group_rules;
pub mod scim;
pub mod types;

pub use client::{Client, ClientError};
pub use group_rules::*;
pub use scim::*;
pub use types::*;

//! Portcullis wire types and a typed HTTP client.
//!
//! The server serializes these types and the client deserializes them, so
//! the two cannot drift apart; the CLI and the end-to-end tests both use
//! [`Client`].

pub mod client;
pub mod types;

pub use client::{Client, ClientError};
pub use types::*;

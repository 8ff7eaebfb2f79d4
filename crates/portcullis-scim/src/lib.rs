//! SCIM 2.0 for Portcullis, as plain functions on JSON documents: the
//! schemas served ([`schema`], RFC 7643), filters ([`filter`], RFC 7644
//! §3.4.2.2), PATCH ([`patch`], §3.5.2), reading a client's document and
//! projecting a response ([`resource`], §3.4.2.5), and the error message
//! ([`error`], §3.12). No HTTP and no SQL: the server and the storage use it.
//!
//! Written here rather than taken from crates.io: the SCIM crates there
//! either parse filters without PATCH's value paths and their leniencies
//! for Entra ID and Okta, or fix a typed model that a schema-driven
//! compliance checker cannot be satisfied with. The grammar is small; every
//! rule cites its RFC section and is unit-tested.

pub mod error;
pub mod filter;
pub mod patch;
pub mod resource;
pub mod schema;

pub use error::{Result, ScimError, ScimType};
pub use filter::{AttrPath, CompareOp, Filter};
pub use patch::{Op, Operation, PatchPath};
pub use schema::ResourceKind;

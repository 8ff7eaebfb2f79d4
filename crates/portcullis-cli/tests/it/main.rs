//! The CLI's integration tests, in one binary: the `portcullis` binary
//! against a real `portcullis-server` (found beside it in the target
//! directory), the platform's own CLI, and the OpenID peer, sharing the
//! server crate's test peers by path (the CLI crate does not depend on the
//! server: `dependencies` proves it).

#[path = "../../../portcullis-server/tests/support/browser.rs"]
mod browser;
#[path = "../../../portcullis-server/tests/support/oidc_peer.rs"]
mod oidc_peer;
#[path = "../../../portcullis-server/tests/upstream/mod.rs"]
mod upstream;

mod server_bin;

mod binary;
mod dependencies;
mod device_misbehaving;
mod enterprise;
mod login;

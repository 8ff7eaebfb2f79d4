//! The CLI installs on a machine with Rust alone: `cargo install --path
//! crates/portcullis-cli` must not need libxmlsec1, OpenSSL's headers or a
//! database driver. Its whole dependency tree (normal, build and dev
//! dependencies, as `cargo tree` shows them by default) is read from cargo
//! itself and checked for the server and the crates that need C libraries.

use std::process::Command;

/// What the server needs and the CLI must not.
const FORBIDDEN: &[&str] = &["portcullis-server", "portcullis-storage", "samael", "openssl", "openssl-sys", "libxml", "sqlx", "sqlx-core", "libsqlite3-sys"];

#[test]
fn the_cli_depends_on_nothing_of_the_server() {
    let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
    let out = Command::new(env!("CARGO"))
        .args(["tree", "--manifest-path", manifest, "-p", "portcullis-cli", "-e", "normal,build,dev", "--prefix", "none", "--locked", "--offline"])
        .output()
        .expect("cargo runs");
    assert!(out.status.success(), "cargo tree failed: {}", String::from_utf8_lossy(&out.stderr));
    let tree = String::from_utf8(out.stdout).unwrap();
    let crates: std::collections::BTreeSet<&str> = tree.lines().filter_map(|l| l.split_whitespace().next()).collect();
    assert!(crates.contains("portcullis-api") && crates.contains("reqwest"), "the tree was read: {crates:?}");
    let found: Vec<&&str> = FORBIDDEN.iter().filter(|c| crates.contains(**c)).collect();
    assert!(found.is_empty(), "portcullis-cli depends on {found:?}; it must build with Rust alone");
}

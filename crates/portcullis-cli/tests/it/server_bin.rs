//! Where the tests find the `portcullis-server` binary, the peer the CLI
//! talks to. The CLI crate does not depend on the server (not even for its
//! tests: its dependency tree must stay free of it), so the binary is the
//! one `cargo test --workspace` (scripts/test.sh) builds beside this test's
//! own, in the same target folder.


/// The `portcullis-server` next to this test binary (`target/<profile>/`).
pub fn path() -> std::path::PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    // target/<profile>/deps/<test> -> target/<profile>/portcullis-server
    let dir = exe.parent().and_then(|deps| deps.parent()).expect("target/<profile>");
    let bin = dir.join(format!("portcullis-server{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.exists(),
        "{} is missing: these tests run the real server; build it first (`cargo build -p portcullis-server`), or run the whole suite (`cargo test --workspace`, scripts/test.sh)",
        bin.display()
    );
    bin
}

//! Where `portcullis login` keeps its tokens: the OS keyring (Secret
//! Service on Linux desktops, the macOS Keychain, the Windows Credential
//! Manager) when there is one, otherwise, with a one-line notice,
//! `$XDG_DATA_HOME/portcullis/` (or `~/.local/share/portcullis/`): a 0700
//! folder holding `tokens` sealed with AES-256-GCM under a random key in
//! `key`, both mode 0600. The encryption keeps the tokens out of anything
//! that copies one file (a backup, a support bundle, a pasted `cat`); the
//! folder's mode is what keeps other users out.
//!
//! `PORTCULLIS_CREDENTIAL_STORE` = `auto` (default), `keyring` (fail rather
//! than fall back) or `file` (never touch the keyring, e.g. on shared hosts).

use aes_gcm::aead::{Aead, KeyInit, OsRng};
use aes_gcm::{AeadCore, Aes256Gcm, Key, Nonce};
use std::path::{Path, PathBuf};

/// What a login leaves behind (the device-flow client's record).
pub use portcullis_api::device::Tokens;

/// The keyring entry: one login at a time, like the file.
const KEYRING_SERVICE: &str = "portcullis";
const KEYRING_USER: &str = "cli-tokens";

#[derive(Clone, Copy, PartialEq, Eq)]
enum Choice {
    Auto,
    Keyring,
    File,
}

fn choice() -> Result<Choice, String> {
    match std::env::var("PORTCULLIS_CREDENTIAL_STORE").unwrap_or_default().trim() {
        "" | "auto" => Ok(Choice::Auto),
        "keyring" => Ok(Choice::Keyring),
        "file" => Ok(Choice::File),
        other => Err(format!("PORTCULLIS_CREDENTIAL_STORE=`{other}` is not auto, keyring or file")),
    }
}

fn keyring_entry() -> Result<keyring::Entry, keyring::Error> {
    keyring::Entry::new(KEYRING_SERVICE, KEYRING_USER)
}

/// Where the tokens went.
pub enum Place {
    Keyring,
    /// The encrypted file; `keyring_error` says why the keyring was not used.
    File { path: PathBuf, keyring_error: Option<String> },
}

impl std::fmt::Display for Place {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Place::Keyring => f.write_str("the OS keyring"),
            Place::File { path, .. } => write!(f, "{} (encrypted, owner-only)", path.display()),
        }
    }
}

/// Keeps the tokens in the keyring, or in the encrypted file when there is
/// no keyring (the reason is returned for a notice).
pub fn save(t: &Tokens) -> Result<Place, String> {
    let choice = choice()?;
    let mut keyring_error = None;
    if choice != Choice::File {
        let json = serde_json::to_string(t).expect("JSON");
        match keyring_entry().and_then(|e| e.set_password(&json)) {
            Ok(()) => {
                // A copy from an earlier fallback must not linger.
                let _ = delete_files();
                return Ok(Place::Keyring);
            }
            Err(e) if choice == Choice::Keyring => return Err(format!("the OS keyring refused the tokens: {e} (PORTCULLIS_CREDENTIAL_STORE=keyring)")),
            Err(e) => keyring_error = Some(e.to_string()),
        }
    }
    save_file(t).map(|path| Place::File { path, keyring_error })
}

/// The stored tokens: from the keyring, else from the file.
pub fn load() -> Result<Option<Tokens>, String> {
    let choice = choice()?;
    if choice != Choice::File {
        match keyring_entry().and_then(|e| e.get_password()) {
            Ok(json) => return serde_json::from_str(&json).map(Some).map_err(|e| format!("the tokens in the OS keyring are damaged ({e}); run `portcullis login` again")),
            Err(keyring::Error::NoEntry) => {}
            Err(e) if choice == Choice::Keyring => return Err(format!("cannot read the OS keyring: {e}")),
            Err(_) => {}
        }
    }
    load_file()
}

/// Forgets the tokens wherever they are; `true` when there were some.
pub fn delete() -> Result<bool, String> {
    let mut removed = false;
    if choice()? != Choice::File {
        match keyring_entry().and_then(|e| e.delete_credential()) {
            Ok(()) => removed = true,
            Err(keyring::Error::NoEntry) => {}
            // No keyring here: the tokens can only be in the file.
            Err(_) => {}
        }
    }
    Ok(delete_files()? || removed)
}

pub fn dir() -> Result<PathBuf, String> {
    let base = match std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(std::env::var_os("HOME").ok_or("neither XDG_DATA_HOME nor HOME is set")?).join(".local/share"),
    };
    Ok(base.join("portcullis"))
}

fn key(dir: &Path, create: bool) -> Result<Option<Key<Aes256Gcm>>, String> {
    let path = dir.join("key");
    match std::fs::read(&path) {
        Ok(b) if b.len() == 32 => Ok(Some(*Key::<Aes256Gcm>::from_slice(&b))),
        Ok(_) => Err(format!("{} is damaged; run `portcullis logout` and log in again", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && create => {
            let k = Aes256Gcm::generate_key(OsRng);
            crate::private_file::write(&path, k.as_slice())?;
            Ok(Some(k))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    }
}

fn save_file(t: &Tokens) -> Result<PathBuf, String> {
    let dir = dir()?;
    let k = key(&dir, true)?.expect("created");
    let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
    let mut sealed = nonce.to_vec();
    sealed.extend(Aes256Gcm::new(&k).encrypt(&nonce, serde_json::to_vec(t).expect("JSON").as_slice()).map_err(|_| "encryption failed")?);
    let path = dir.join("tokens");
    crate::private_file::write(&path, &sealed)?;
    Ok(path)
}

fn load_file() -> Result<Option<Tokens>, String> {
    let dir = dir()?;
    let path = dir.join("tokens");
    let sealed = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    let Some(k) = key(&dir, false)? else { return Err(format!("{} has no key beside it; run `portcullis login` again", path.display())) };
    if sealed.len() < 12 {
        return Err(format!("{} is damaged; run `portcullis login` again", path.display()));
    }
    let plain = Aes256Gcm::new(&k)
        .decrypt(Nonce::from_slice(&sealed[..12]), &sealed[12..])
        .map_err(|_| format!("{} does not open with its key; run `portcullis login` again", path.display()))?;
    serde_json::from_slice(&plain).map(Some).map_err(|e| format!("{} is damaged ({e}); run `portcullis login` again", path.display()))
}

fn delete_files() -> Result<bool, String> {
    let dir = dir()?;
    let mut removed = false;
    for name in ["tokens", "key"] {
        match std::fs::remove_file(dir.join(name)) {
            Ok(()) => removed = true,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(format!("cannot delete {}: {e}", dir.join(name).display())),
        }
    }
    Ok(removed)
}

//! Where `portcullis login` keeps its tokens: `$XDG_DATA_HOME/portcullis/`
//! (or `~/.local/share/portcullis/`), a 0700 folder holding `tokens` sealed
//! with AES-256-GCM under a random key in `key`, both mode 0600. The
//! encryption keeps the tokens out of anything that copies one file (a
//! backup, a support bundle, a pasted `cat`); the folder's mode is what
//! keeps other users out.

use aes_gcm::aead::{Aead, KeyInit, OsRng};
use aes_gcm::{AeadCore, Aes256Gcm, Key, Nonce};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// What a login leaves behind.
#[derive(Serialize, Deserialize, Clone)]
pub struct Tokens {
    pub access_token: String,
    pub refresh_token: Option<String>,
    /// Unix seconds.
    pub expires_at: i64,
    pub issuer: String,
    pub token_endpoint: String,
    pub revocation_endpoint: Option<String>,
    pub jwks_uri: String,
    pub client_id: String,
    pub audience: String,
    /// The server these tokens are for.
    pub base_url: String,
}

// Tokens never reach Debug output.
impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens").field("issuer", &self.issuer).field("expires_at", &self.expires_at).finish_non_exhaustive()
    }
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

pub fn save(t: &Tokens) -> Result<PathBuf, String> {
    let dir = dir()?;
    let k = key(&dir, true)?.expect("created");
    let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
    let mut sealed = nonce.to_vec();
    sealed.extend(Aes256Gcm::new(&k).encrypt(&nonce, serde_json::to_vec(t).expect("JSON").as_slice()).map_err(|_| "encryption failed")?);
    let path = dir.join("tokens");
    crate::private_file::write(&path, &sealed)?;
    Ok(path)
}

pub fn load() -> Result<Option<Tokens>, String> {
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

pub fn delete() -> Result<bool, String> {
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

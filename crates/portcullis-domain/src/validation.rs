//! Validation of names, e-mail addresses and passwords, with messages that
//! say what is wrong and what a good value looks like.

/// A value refused: which field, and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct ValidationError {
    /// The field, as the API and the forms name it.
    pub field: &'static str,
    /// What is wrong, and what a good value looks like.
    pub problem: String,
}

impl ValidationError {
    /// The error for `field`.
    pub fn new(field: &'static str, problem: impl Into<String>) -> Self {
        Self { field, problem: problem.into() }
    }
}

/// The longest name accepted (characters).
pub const MAX_NAME_CHARS: usize = 64;
/// The longest e-mail address accepted (RFC 5321 §4.5.3.1.3).
pub const MAX_EMAIL_CHARS: usize = 254;
/// The shortest password accepted (characters).
pub const MIN_PASSWORD_CHARS: usize = 12;
/// Upper bound so that hashing cannot be used to burn CPU.
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// A display name for an organization or role: trimmed, 1 to 64 characters,
/// no control characters.
pub fn name(field: &'static str, raw: &str) -> Result<String, ValidationError> {
    let s = raw.trim();
    if s.is_empty() {
        return Err(ValidationError::new(field, "must not be empty (e.g. \"Developers\")"));
    }
    let n = s.chars().count();
    if n > MAX_NAME_CHARS {
        return Err(ValidationError::new(
            field,
            format!("is {n} characters long; the limit is {MAX_NAME_CHARS}"),
        ));
    }
    if s.chars().any(char::is_control) {
        return Err(ValidationError::new(field, "must not contain control characters"));
    }
    Ok(s.to_owned())
}

/// An e-mail address, normalized to lower case.
pub fn email(raw: &str) -> Result<String, ValidationError> {
    let s = raw.trim().to_lowercase();
    let bad = || ValidationError::new("email", format!("`{}` is not an e-mail address (e.g. ada@example.com)", raw.trim()));
    if s.is_empty() || s.len() > MAX_EMAIL_CHARS || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad());
    }
    let (local, domain) = s.rsplit_once('@').ok_or_else(bad)?;
    if local.is_empty() || domain.is_empty() || !domain.contains('.') || domain.starts_with('.') || domain.ends_with('.') {
        return Err(bad());
    }
    Ok(s)
}

/// A new password: at least 12 characters, at most 1024 bytes.
pub fn new_password(raw: &str) -> Result<(), ValidationError> {
    if raw.chars().count() < MIN_PASSWORD_CHARS {
        return Err(ValidationError::new(
            "password",
            format!("must be at least {MIN_PASSWORD_CHARS} characters long (a passphrase of a few words works well)"),
        ));
    }
    if raw.len() > MAX_PASSWORD_BYTES {
        return Err(ValidationError::new("password", format!("must be at most {MAX_PASSWORD_BYTES} bytes long")));
    }
    Ok(())
}

/// Where to send the browser after sign-in: a path on this server (`/x?y`),
/// given as such or as an absolute URL on this server's own public origin
/// (`https://factory.example.com/automations`, which links copied from the
/// address bar are). Anything else (another origin, `//host`, `/\\host`,
/// control characters, more than 2 KiB) becomes `/`, so `return_to` can
/// never be an open redirect.
pub fn safe_return_to(raw: Option<&str>, own_origin: &str) -> String {
    let Some(r) = raw else { return "/".into() };
    let path = match r.get(..own_origin.len()) {
        Some(prefix) if !own_origin.is_empty() && prefix.eq_ignore_ascii_case(own_origin) => {
            let rest = &r[own_origin.len()..];
            if rest.is_empty() {
                "/"
            } else {
                rest
            }
        }
        _ => r,
    };
    let ok = path.starts_with('/')
        && !path.starts_with("//")
        && path.len() <= 2048
        && !path.contains('\\')
        && !path.chars().any(|c| c.is_control() || c.is_whitespace());
    if ok {
        path.to_owned()
    } else {
        "/".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn return_to_is_same_origin_only() {
        let own = "https://factory.example.com";
        assert_eq!(safe_return_to(Some("/api/v1/me?x=1"), own), "/api/v1/me?x=1");
        assert_eq!(safe_return_to(None, own), "/");
        assert_eq!(safe_return_to(Some("https://factory.example.com/automations?q=1"), own), "/automations?q=1");
        assert_eq!(safe_return_to(Some("HTTPS://Factory.Example.com/a"), own), "/a");
        assert_eq!(safe_return_to(Some("https://factory.example.com"), own), "/");
        for bad in [
            "//evil.example", "https://evil.example", "/\\evil.example", "\\\\evil", "evil", "/\tx", "/a b", "javascript:alert(1)", "",
            "https://factory.example.com.evil.example/", "https://factory.example.com@evil.example/", "https://factory.example.com//evil.example",
            "http://factory.example.com/a", "https://factory.example.com:8443/a",
        ] {
            assert_eq!(safe_return_to(Some(bad), own), "/", "{bad}");
        }
    }

    #[test]
    fn names() {
        assert_eq!(name("name", "  Dev  ").unwrap(), "Dev");
        assert!(name("name", "").is_err());
        assert!(name("name", &"x".repeat(65)).unwrap_err().to_string().contains("65 characters"));
        assert!(name("name", "a\u{0007}b").is_err());
        assert!(name("name", &"é".repeat(64)).is_ok());
    }

    #[test]
    fn emails() {
        assert_eq!(email(" Ada@Example.COM ").unwrap(), "ada@example.com");
        for bad in ["", "ada", "ada@", "@x.io", "a b@x.io", "ada@localhost", "ada@x."] {
            assert!(email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn passwords() {
        assert!(new_password("short").is_err());
        assert!(new_password("correct horse battery").is_ok());
        assert!(new_password(&"x".repeat(1025)).is_err());
    }
}

//! Which hosts Portcullis may call as automations (server-side request
//! forgery defence).
//!
//! Whatever the configuration, link-local addresses (169.254.0.0/16 with the
//! clouds' metadata services, fe80::/10), unspecified, broadcast and
//! multicast addresses are refused, for IP literals in the URL and for every
//! address a name resolves to (a resolver wraps the HTTP client's, so a name
//! that points at a metadata service is refused at connection time too).
//! With `PORTCULLIS_UPSTREAM_ALLOWED_HOSTS` set, the URL's host must also
//! match one of its patterns (`host.example.com` or `*.example.com`).

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::net::{IpAddr, SocketAddr};

/// Addresses no automation lives at.
pub fn forbidden_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_link_local() || v4.is_unspecified() || v4.is_broadcast() || v4.is_multicast(),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return forbidden_ip(IpAddr::V4(v4));
            }
            v6.is_unspecified() || v6.is_multicast() || (v6.segments()[0] & 0xffc0) == 0xfe80
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HostPolicy {
    /// Lower-case patterns; empty means any host (but forbidden addresses).
    pub allowed: Vec<String>,
}

impl HostPolicy {
    pub fn parse(list: &str) -> Result<Self, String> {
        let mut allowed = Vec::new();
        for p in list.split(',').map(|p| p.trim().to_lowercase()).filter(|p| !p.is_empty()) {
            let bare = p.strip_prefix("*.").unwrap_or(&p);
            if bare.is_empty() || bare.contains(['/', ':', '*', ' ']) && bare.parse::<IpAddr>().is_err() {
                return Err(format!("`{p}` is not a host name, `*.domain` or an IP address"));
            }
            allowed.push(p);
        }
        Ok(Self { allowed })
    }

    /// Whether `host` (from a URL) may be called. Says why not.
    pub fn check(&self, host: &str) -> Result<(), String> {
        let h = host.trim_start_matches('[').trim_end_matches(']').to_lowercase();
        if let Ok(ip) = h.parse::<IpAddr>() {
            if forbidden_ip(ip) {
                return Err(format!("{h} is a link-local, unspecified, broadcast or multicast address, which Portcullis never calls"));
            }
        }
        if self.allowed.is_empty() {
            return Ok(());
        }
        let ok = self.allowed.iter().any(|p| match p.strip_prefix("*.") {
            Some(suffix) => h.ends_with(&format!(".{suffix}")),
            None => *p == h,
        });
        if ok {
            Ok(())
        } else {
            Err(format!("{h} is not in PORTCULLIS_UPSTREAM_ALLOWED_HOSTS ({})", self.allowed.join(", ")))
        }
    }
}

/// The system resolver, minus forbidden addresses.
pub struct FilteringResolver;

impl Resolve for FilteringResolver {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.filter(|a| !forbidden_ip(a.ip())).collect();
            if addrs.is_empty() {
                return Err(format!("{host} resolves only to addresses Portcullis never calls").into());
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forbidden_addresses() {
        for ip in ["169.254.169.254", "0.0.0.0", "255.255.255.255", "224.0.0.1", "fe80::1", "::", "::ffff:169.254.169.254"] {
            assert!(forbidden_ip(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["127.0.0.1", "10.1.2.3", "192.168.1.1", "8.8.8.8", "::1"] {
            assert!(!forbidden_ip(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn allow_list() {
        let any = HostPolicy::default();
        assert!(any.check("crew.example.com").is_ok());
        assert!(any.check("169.254.169.254").is_err());
        assert!(any.check("[fe80::1]").is_err());
        let p = HostPolicy::parse("crews.internal.example.com, *.apps.example.com, 127.0.0.1").unwrap();
        assert!(p.check("crews.internal.example.com").is_ok());
        assert!(p.check("a.apps.example.com").is_ok());
        assert!(p.check("apps.example.com").is_err());
        assert!(p.check("evil.example.com").unwrap_err().contains("PORTCULLIS_UPSTREAM_ALLOWED_HOSTS"));
        assert!(p.check("127.0.0.1").is_ok());
        assert!(HostPolicy::parse("http://x").is_err());
    }
}

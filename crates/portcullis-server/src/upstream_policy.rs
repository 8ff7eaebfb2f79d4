//! Which hosts Portcullis may call as automations (server-side request
//! forgery defence).
//!
//! Whatever the configuration, the clouds' instance metadata services
//! (169.254.0.0/16 and fe80::/10 link-local, AWS's `fd00:ec2::254`,
//! Alibaba's `100.100.100.200`, Oracle's `192.0.0.192`), unspecified,
//! broadcast and multicast addresses are refused, also when written as an
//! IPv6 address that carries an IPv4 one (mapped `::ffff:a.b.c.d`,
//! compatible `::a.b.c.d`, NAT64 `64:ff9b::/96` and `64:ff9b:1::/48`,
//! 6to4 `2002::/16`, Teredo `2001::/32`), for IP literals in the URL and
//! for every address a name resolves to (a resolver wraps the HTTP
//! client's, so a name that points at a metadata service is refused at
//! connection time too). With `PORTCULLIS_UPSTREAM_ALLOWED_HOSTS` set, the
//! URL's host must also match one of its patterns (`host.example.com` or
//! `*.example.com`).

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// IPv4 addresses no automation lives at.
fn forbidden_v4(v4: Ipv4Addr) -> bool {
    const METADATA: [Ipv4Addr; 2] = [
        Ipv4Addr::new(100, 100, 100, 200), // Alibaba Cloud
        Ipv4Addr::new(192, 0, 0, 192),     // Oracle Cloud (classic)
    ];
    v4.is_link_local() || v4.is_unspecified() || v4.is_broadcast() || v4.is_multicast() || METADATA.contains(&v4)
}

/// The IPv4 address an IPv6 one stands for, in the forms that reach an
/// IPv4 host: mapped, compatible, NAT64 (RFC 6052 well-known prefix and
/// RFC 8215 local-use prefix, /96 form), 6to4 (RFC 3056) and Teredo
/// (RFC 4380, client address obfuscated).
fn embedded_v4(v6: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = v6.segments();
    let tail = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    if let Some(v4) = v6.to_ipv4_mapped() {
        return Some(v4);
    }
    match s {
        [0, 0, 0, 0, 0, 0, _, _] => Some(tail),                      // ::a.b.c.d (deprecated "compatible")
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] => Some(tail),              // 64:ff9b::/96
        [0x64, 0xff9b, 1, _, _, _, _, _] => Some(tail),              // 64:ff9b:1::/48
        [0x2002, a, b, _, _, _, _, _] => Some(Ipv4Addr::new((a >> 8) as u8, a as u8, (b >> 8) as u8, b as u8)),
        [0x2001, 0, _, _, _, _, c, d] => Some(Ipv4Addr::new(!(c >> 8) as u8, !c as u8, !(d >> 8) as u8, !d as u8)),
        _ => None,
    }
}

/// Addresses no automation lives at.
pub fn forbidden_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            let aws_metadata = s[0] == 0xfd00 && s[1] == 0x0ec2; // fd00:ec2::/32 (IMDS at ::254, DNS, NTP)
            v6.is_unspecified() || v6.is_multicast() || (s[0] & 0xffc0) == 0xfe80 || aws_metadata || embedded_v4(v6).is_some_and(forbidden_v4)
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
                return Err(format!("{h} is a cloud metadata, link-local, unspecified, broadcast or multicast address (or an IPv6 form of one), which Portcullis never calls"));
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

/// `scheme://host:port` of an upstream URL (the port explicit), what an
/// automation's token is bound to.
pub fn origin(upstream_url: &str) -> Option<String> {
    origin_of(&url::Url::parse(upstream_url).ok()?)
}

fn origin_of(u: &url::Url) -> Option<String> {
    Some(format!("{}://{}:{}", u.scheme(), u.host_str()?.to_lowercase(), u.port_or_known_default()?))
}

/// The associated data a sealed upstream token is bound to: its automation
/// and the origin it was given for. A token opens only while the
/// automation's URL has that origin, so no code path can send it to
/// another host (changing the host also drops it, see `api::automations`).
pub fn token_aad(id: portcullis_domain::AutomationId, origin: &str) -> String {
    crate::crypto::aad(&["automation-token", &id.to_string(), origin])
}

/// Before tokens were bound to their origin.
fn legacy_token_aad(id: portcullis_domain::AutomationId) -> String {
    crate::crypto::aad(&["automation-token", &id.to_string()])
}

/// Seals `token` for the automation at `upstream_url`.
pub fn seal_token(sealer: &crate::crypto::Sealer, id: portcullis_domain::AutomationId, upstream_url: &str, token: &str) -> String {
    sealer.seal(token.as_bytes(), &token_aad(id, &origin(upstream_url).unwrap_or_default()))
}

/// Why an automation is not called.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetProblem {
    NoToken,
    /// The URL's host is refused by the policy as it stands now.
    NotAllowed(String),
    /// The token does not open (another key, or another origin).
    TokenUnusable(String),
}

/// What a call to an automation needs, checked at every call (proxy and
/// health checks alike): its base URL, allowed by the policy as it stands
/// now, and its token, opened for that URL's origin only.
pub fn target(hosts: &HostPolicy, sealer: &crate::crypto::Sealer, a: &portcullis_storage::Automation) -> Result<(url::Url, String), TargetProblem> {
    let sealed = a.upstream_token_sealed.as_deref().ok_or(TargetProblem::NoToken)?;
    let base = url::Url::parse(&a.upstream_url).map_err(|e| TargetProblem::NotAllowed(format!("its upstream_url is not a URL ({e})")))?;
    hosts.check(base.host_str().unwrap_or_default()).map_err(TargetProblem::NotAllowed)?;
    let origin = origin_of(&base).unwrap_or_default();
    let clear = sealer.open(sealed, &token_aad(a.id, &origin)).map_err(|e| TargetProblem::TokenUnusable(e.to_string()))?;
    let token = String::from_utf8(clear).map_err(|_| TargetProblem::TokenUnusable("not UTF-8".into()))?;
    Ok((base, token))
}

/// `base` with `path` after its own path (`http://h/crew` + `kickoff` is
/// `http://h/crew/kickoff`), without parsing a URL again.
pub fn join(base: &url::Url, path: &str) -> url::Url {
    let mut u = base.clone();
    let joined = format!("{}/{path}", base.path().trim_end_matches('/'));
    u.set_path(&joined);
    u
}

/// Re-seals tokens stored before they were bound to their origin, for the
/// origin they have now (once, at start; compare-and-swap, so a token set
/// meanwhile is kept). Returns how many were upgraded.
pub async fn bind_legacy_tokens(store: &dyn portcullis_storage::Store, sealer: &crate::crypto::Sealer) -> Result<usize, portcullis_storage::StoreError> {
    let mut n = 0;
    for a in store.list_all_automations().await? {
        let Some(sealed) = a.upstream_token_sealed.as_deref() else { continue };
        let origin = origin(&a.upstream_url).unwrap_or_default();
        if sealer.open(sealed, &token_aad(a.id, &origin)).is_ok() {
            continue;
        }
        if let Ok(clear) = sealer.open(sealed, &legacy_token_aad(a.id)) {
            if store.reseal_automation_token(a.id, sealed, &sealer.seal(&clear, &token_aad(a.id, &origin))).await? {
                n += 1;
            }
        }
    }
    Ok(n)
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
        for ip in [
            "169.254.169.254", "0.0.0.0", "255.255.255.255", "224.0.0.1", "fe80::1", "::", "::ffff:169.254.169.254",
            "fd00:ec2::254", "fd00:ec2::23", "100.100.100.200", "192.0.0.192",
            "64:ff9b::a9fe:a9fe", "64:ff9b::169.254.169.254", "64:ff9b:1::a9fe:a9fe", "::169.254.169.254", "2002:a9fe:a9fe::1",
            "64:ff9b::6464:64c8", "2001:0:4136:e378:8000:63bf:5601:5601",
        ] {
            assert!(forbidden_ip(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["127.0.0.1", "10.1.2.3", "192.168.1.1", "8.8.8.8", "::1", "100.64.0.1", "fd00::1", "64:ff9b::808:808", "2002:808:808::1", "2001:db8::1"] {
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

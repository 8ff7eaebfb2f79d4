//! Entra ID's group overage: above 200 groups (the limit for JWTs), Entra
//! ID leaves `groups` out of the token and points at it as a distributed
//! claim instead (OpenID Connect Core §5.6.2):
//!
//! ```json
//! "_claim_names": { "groups": "src1" },
//! "_claim_sources": { "src1": { "endpoint": "https://graph.windows.net/<tenant>/users/<oid>/getMemberObjects" } }
//! ```
//!
//! The groups are then listed from Microsoft Graph, `GET
//! /v1.0/users/{oid}/transitiveMemberOf?$select=id` (the memberships the
//! `groups` claim would have carried, nested groups included), with an
//! application token from the client credentials grant (RFC 6749 §4.4,
//! scope `https://graph.microsoft.com/.default`). That needs the
//! application permission `GroupMember.Read.All` with admin consent.
//!
//! The endpoint the token names is never called: it comes from the token
//! (whose claims say where to send our credentials only because the token
//! said so), and it is the retired Azure AD Graph. Graph's own paging links
//! are followed only on the configured Graph origin.
//!
//! Only group object ids are kept, as the `groups` claim carries them:
//! display names are neither unique nor fixed (a group's owners can rename
//! it), so a rule could otherwise be matched by a group named after it.

use crate::config::oidc::{GraphSettings, OidcSettings};
use crate::idp::error::SignInError;
use crate::outbound::read_capped;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use std::time::{Duration, Instant};

/// A page of Graph's answer is at most 999 ids of ~100 bytes each.
const MAX_PAGE_BYTES: usize = 1 << 20;
/// 100 pages of up to 999: far above any tenant's nesting, and a bound on
/// what a broken paging link can make us fetch.
const MAX_PAGES: usize = 100;
/// The claim Entra ID leaves out.
pub const GROUPS: &str = "groups";

/// Lists a person's groups from Graph for one Entra ID application, and
/// keeps its application token until shortly before it expires.
pub struct GroupOverage {
    graph: GraphSettings,
    client_id: String,
    secret: Option<SecretString>,
    /// The provider's roles claim: filled from Graph too when it is `groups`.
    pub roles_claim: String,
    app_token: tokio::sync::Mutex<Option<(SecretString, Instant)>>,
}

impl std::fmt::Debug for GroupOverage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupOverage").field("graph", &self.graph.graph_url.as_str()).field("client_id", &self.client_id).finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    expires_in: Option<u64>,
}

#[derive(Deserialize)]
struct OAuthError {
    error: String,
    #[serde(default)]
    error_description: String,
}

#[derive(Deserialize)]
struct Page {
    value: Vec<DirectoryObject>,
    #[serde(rename = "@odata.nextLink")]
    next_link: Option<String>,
}

#[derive(Deserialize)]
struct DirectoryObject {
    #[serde(rename = "@odata.type", default)]
    odata_type: String,
    id: String,
}

#[derive(Deserialize)]
struct GraphError {
    error: GraphErrorBody,
}

#[derive(Deserialize)]
struct GraphErrorBody {
    code: String,
    #[serde(default)]
    message: String,
}

/// Whether the claims say `claim` is held elsewhere (§5.6.2).
pub fn left_out(claims: &serde_json::Value, claim: &str) -> bool {
    claims.get(claim).is_none() && claims.get("_claim_names").and_then(|n| n.get(claim)).is_some()
}

fn failed(cause: String, fix: &str, detail: String) -> SignInError {
    SignInError::GroupOverage { cause, fix: fix.to_owned(), detail }
}

const PERMISSION_FIX: &str = "In the Azure portal, App registrations → your app → API permissions: add Microsoft Graph → Application permissions → GroupMember.Read.All, and grant admin consent. Or keep tokens under 200 groups: Token configuration → groups claim → \"Groups assigned to the application\".";

impl GroupOverage {
    /// For providers whose vendor has group overage (Entra ID).
    pub fn new(settings: &OidcSettings) -> Option<Self> {
        Some(Self {
            graph: settings.group_overage.clone()?,
            client_id: settings.client_id.to_string(),
            secret: settings.client_secret.clone(),
            roles_claim: settings.roles_claim.clone(),
            app_token: tokio::sync::Mutex::new(None),
        })
    }

    /// The object ids of the groups the person with Entra ID object id
    /// `oid` is a member of, directly or through nested groups.
    pub async fn group_ids(&self, http: &reqwest::Client, oid: &str) -> Result<Vec<String>, SignInError> {
        // An object id is a GUID; anything else would change the URL's path.
        if oid.len() != 36 || !oid.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
            return Err(failed(
                "Microsoft Entra ID left your groups out of the token (more than 200), and the token has no object id (`oid`) to look them up by.".into(),
                "Make sure the app's tokens carry the oid claim (it is standard in v2.0 tokens), or keep tokens under 200 groups: Token configuration → groups claim → \"Groups assigned to the application\".",
                format!("oid claim: {:?}", oid.chars().take(60).collect::<String>()),
            ));
        }
        let token = self.app_token(http).await?;
        let origin = crate::config::bare(&self.graph.graph_url);
        let mut url = format!("{origin}/v1.0/users/{oid}/transitiveMemberOf?$select=id&$top=999");
        let mut ids = Vec::new();
        for _ in 0..MAX_PAGES {
            let page = self.page(http, &url, token.expose_secret()).await?;
            ids.extend(page.value.into_iter().filter(|o| o.odata_type.is_empty() || o.odata_type == "#microsoft.graph.group").map(|o| o.id));
            match page.next_link {
                None => {
                    ids.sort();
                    ids.dedup();
                    return Ok(ids);
                }
                Some(next) if next.starts_with(&format!("{origin}/")) => url = next,
                Some(next) => {
                    return Err(failed(
                        "Microsoft Graph's answer pointed to a next page on another host.".into(),
                        "Check ENTRA_ID_GRAPH_HOST: it must be the Graph endpoint of your cloud (https://graph.microsoft.com, or your national cloud's).",
                        format!("nextLink host: {}", url::Url::parse(&next).ok().and_then(|u| u.host_str().map(str::to_owned)).unwrap_or_default()),
                    ))
                }
            }
        }
        Err(failed(
            format!("Microsoft Graph lists more than {MAX_PAGES} pages of groups for you."),
            "Emit only the groups the rules need: Token configuration → groups claim → \"Groups assigned to the application\".",
            String::new(),
        ))
    }

    async fn page(&self, http: &reqwest::Client, url: &str, token: &str) -> Result<Page, SignInError> {
        let unreachable = |e: &reqwest::Error| SignInError::Unreachable(format!("Microsoft Graph: {}", crate::outbound::describe(e)));
        let resp = http.get(url).bearer_auth(token).header("accept", "application/json").send().await.map_err(|e| unreachable(&e))?;
        let status = resp.status();
        let body = read_capped(resp, MAX_PAGE_BYTES).await.map_err(|e| SignInError::Unreachable(format!("Microsoft Graph: {e}")))?;
        if status.is_success() {
            return serde_json::from_slice(&body).map_err(|e| SignInError::Malformed(format!("Microsoft Graph transitiveMemberOf: {e}")));
        }
        let (code, message) = serde_json::from_slice::<GraphError>(&body).map(|e| (e.error.code, e.error.message)).unwrap_or_else(|_| (String::new(), String::new()));
        let detail = format!("Graph {status} {code}: {}", crate::outbound::short(&message));
        Err(match status.as_u16() {
            401 | 403 => failed(
                format!("Microsoft Entra ID left your groups out of the token (more than 200), and Microsoft Graph refused to list them ({} {code}).", status.as_u16()),
                PERMISSION_FIX,
                detail,
            ),
            404 => failed(
                "Microsoft Graph does not know your account in this tenant.".into(),
                "Check ENTRA_ID_TENANT_ID and ENTRA_ID_GRAPH_HOST.",
                detail,
            ),
            _ => SignInError::Unreachable(detail),
        })
    }

    /// An application token for Graph, from the tenant's token endpoint
    /// (client credentials, RFC 6749 §4.4), reused until a minute before it
    /// expires. One request at a time fetches it.
    async fn app_token(&self, http: &reqwest::Client) -> Result<SecretString, SignInError> {
        let mut cached = self.app_token.lock().await;
        if let Some((token, until)) = cached.as_ref() {
            if Instant::now() < *until {
                return Ok(token.clone());
            }
        }
        let secret = self.secret.as_ref().ok_or_else(|| {
            failed(
                "Microsoft Entra ID left your groups out of the token (more than 200); listing them needs the application's client secret.".into(),
                "Set ENTRA_ID_CLIENT_SECRET.",
                String::new(),
            )
        })?;
        let scope = format!("{}/.default", crate::config::bare(&self.graph.graph_url));
        let form = [("grant_type", "client_credentials"), ("client_id", self.client_id.as_str()), ("client_secret", secret.expose_secret()), ("scope", scope.as_str())];
        let resp = http.post(self.graph.token_url.clone()).form(&form).send().await.map_err(|e| SignInError::Unreachable(format!("token endpoint (Graph): {}", crate::outbound::describe(&e))))?;
        let status = resp.status();
        let body = read_capped(resp, 64 * 1024).await.map_err(|e| SignInError::Unreachable(format!("token endpoint (Graph): {e}")))?;
        if !status.is_success() {
            let e = serde_json::from_slice::<OAuthError>(&body).unwrap_or(OAuthError { error: format!("HTTP {status}"), error_description: String::new() });
            if let Some(explained) = super::Vendor::explain_error(&super::entra_id::EntraId, &e.error, &e.error_description) {
                return Err(explained);
            }
            return Err(failed(
                format!("Microsoft Entra ID would not give Portcullis a token for Microsoft Graph ({}), needed to list your groups (more than 200, so left out of the token).", e.error),
                PERMISSION_FIX,
                format!("{}: {}", e.error, crate::outbound::short(&e.error_description)),
            ));
        }
        let answer: TokenAnswer = serde_json::from_slice(&body).map_err(|e| SignInError::Malformed(format!("token endpoint (Graph): {e}")))?;
        let lifetime = Duration::from_secs(answer.expires_in.unwrap_or(300).saturating_sub(60));
        let token = SecretString::from(answer.access_token);
        *cached = Some((token.clone(), Instant::now() + lifetime));
        Ok(token)
    }
}

#[cfg(test)]
mod tests;

//! A typed client for the Portcullis API: with a session cookie and its CSRF
//! token the way a browser would, or with a bearer access token as the CLI
//! does.

use crate::group_rules::*;
use crate::scim::*;
use crate::types::*;
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde::Serialize;
use url::Url;
use uuid::Uuid;

/// Why a call through [`Client`] failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server answered with an error body.
    #[error("{status}: {} ({})", body.message, body.error)]
    Api {
        /// The HTTP status.
        status: StatusCode,
        /// What the server said.
        body: ErrorBody,
    },
    /// The server answered something that is not the expected JSON.
    #[error("unexpected response {status}: {text}")]
    Unexpected {
        /// The HTTP status.
        status: StatusCode,
        /// The body as text.
        text: String,
    },
    /// The server could not be reached (or the connection broke).
    #[error("cannot reach the server: {0}")]
    Transport(#[from] reqwest::Error),
}

impl ClientError {
    /// The HTTP status, when the server answered.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            ClientError::Api { status, .. } | ClientError::Unexpected { status, .. } => Some(*status),
            ClientError::Transport(_) => None,
        }
    }
    /// The error body's machine-readable code (`csrf`, `organization_required`, ...).
    pub fn code(&self) -> Option<&str> {
        match self {
            ClientError::Api { body, .. } => Some(&body.error),
            _ => None,
        }
    }
}

/// What every call of the client returns.
pub type Result<T> = std::result::Result<T, ClientError>;

/// A typed client of the Portcullis API, authenticated by a session cookie
/// (after [`Client::login_local`]) or a bearer token ([`Client::with_bearer`]).
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: Url,
    csrf: Option<String>,
    org: Option<Uuid>,
    /// `Authorization: Bearer` for every request (RFC 6750).
    bearer: Option<String>,
}

impl Client {
    /// A client for the server at `base` (e.g. `http://127.0.0.1:8080`).
    pub fn new(base: &str) -> Result<Self> {
        let http = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        let base = Url::parse(base).map_err(|e| ClientError::Unexpected {
            status: StatusCode::BAD_REQUEST,
            text: format!("bad base URL `{base}`: {e}"),
        })?;
        Ok(Self { http, base, csrf: None, org: None, bearer: None })
    }

    /// The server's base URL.
    pub fn base(&self) -> &Url {
        &self.base
    }

    /// The organization sent as `X-Organization-Id` with every request.
    pub fn with_org(mut self, org: Uuid) -> Self {
        self.org = Some(org);
        self
    }

    /// Authenticates every request with this access token instead of a session.
    pub fn with_bearer(mut self, token: &str) -> Self {
        self.bearer = Some(token.to_owned());
        self
    }

    /// Sets or clears the organization sent as `X-Organization-Id`.
    pub fn set_org(&mut self, org: Option<Uuid>) {
        self.org = org;
    }

    /// The CSRF token of the signed-in session, sent with state changes.
    pub fn csrf_token(&self) -> Option<&str> {
        self.csrf.as_deref()
    }

    /// The underlying HTTP client (it carries the cookies).
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// The absolute URL of `path` on the server.
    pub fn url(&self, path: &str) -> Url {
        self.base.join(path).expect("valid path")
    }

    /// Signs in with the local provider's form, as a browser would: fetch
    /// the form's CSRF token, post the form, then load `/api/v1/me`.
    pub async fn login_local(&mut self, email: &str, password: &str) -> Result<Me> {
        let form: LoginForm = decode(
            self.http.get(self.url("/auth/local/login")).header("accept", "application/json").send().await?,
        )
        .await?;
        let resp = self
            .http
            .post(self.url("/auth/local/login"))
            .header("accept", "application/json")
            .form(&[("email", email), ("password", password), ("csrf_token", &form.csrf_token), ("return_to", "/")])
            .send()
            .await?;
        let status = resp.status();
        if !status.is_redirection() {
            return Err(error_from(resp).await);
        }
        self.me().await
    }

    /// `GET /api/v1/me`; remembers the CSRF token it returns.
    pub async fn me(&mut self) -> Result<Me> {
        let me: Me = self.get("/api/v1/me").await?;
        self.csrf = Some(me.csrf_token.clone());
        Ok(me)
    }

    /// Approves (or denies) a CLI's device login on `/device`, as the signed-in
    /// user pressing the button would (RFC 8628 §3.3). Needs a session.
    pub async fn decide_device(&self, user_code: &str, approve: bool) -> Result<()> {
        let token = self.csrf.clone().unwrap_or_default();
        let decision = if approve { "approve" } else { "deny" };
        let resp = self
            .http
            .post(self.url("/device"))
            .form(&[("csrf_token", token.as_str()), ("user_code", user_code), ("decision", decision)])
            .send()
            .await?;
        if resp.status().is_success() {
            Ok(())
        } else {
            Err(error_from(resp).await)
        }
    }

    /// `POST /auth/logout`: ends the session (with its CSRF token).
    pub async fn logout(&mut self) -> Result<()> {
        let token = self.csrf.clone().unwrap_or_default();
        let resp = self
            .http
            .post(self.url("/auth/logout"))
            .form(&[("csrf_token", token.as_str())])
            .send()
            .await?;
        if resp.status().is_redirection() {
            self.csrf = None;
            Ok(())
        } else {
            Err(error_from(resp).await)
        }
    }

    /// `GET /api/v1/me/sessions`: the caller's sessions.
    pub async fn sessions(&self) -> Result<Vec<SessionInfo>> {
        self.get("/api/v1/me/sessions").await
    }
    /// `DELETE /api/v1/me/sessions/{id}`: ends one of the caller's sessions.
    pub async fn revoke_session(&self, id: Uuid) -> Result<()> {
        self.send_empty(Method::DELETE, &format!("/api/v1/me/sessions/{id}")).await
    }
    /// `GET /api/v1/me/cli-logins`: the caller's CLI logins.
    pub async fn cli_logins(&self) -> Result<Vec<CliLoginInfo>> {
        self.get("/api/v1/me/cli-logins").await
    }
    /// `DELETE /api/v1/me/cli-logins/{id}`: ends one of the caller's CLI logins.
    pub async fn end_cli_login(&self, id: &str) -> Result<()> {
        self.send_empty(Method::DELETE, &format!("/api/v1/me/cli-logins/{id}")).await
    }
    /// `GET /api/v1/organizations`: the organizations the caller may see.
    pub async fn organizations(&self) -> Result<Vec<OrganizationInfo>> {
        self.get("/api/v1/organizations").await
    }
    /// `POST /api/v1/organizations` (factory admins).
    pub async fn create_organization(&self, name: &str) -> Result<OrganizationInfo> {
        self.send(Method::POST, "/api/v1/organizations", &CreateOrganization { name: name.into() }).await
    }
    /// `GET /api/v1/users`: the members of the current organization.
    pub async fn members(&self) -> Result<Vec<MemberInfo>> {
        self.get("/api/v1/users").await
    }
    /// `POST /api/v1/users`: a local account with a password chosen by an administrator.
    pub async fn create_user(&self, body: &CreateUser) -> Result<MemberInfo> {
        self.send(Method::POST, "/api/v1/users", body).await
    }
    /// `POST /api/v1/invitations`.
    pub async fn invite(&self, body: &CreateInvitation) -> Result<InvitationInfo> {
        self.send(Method::POST, "/api/v1/invitations", body).await
    }
    /// `GET /api/v1/invitations` of the current organization.
    pub async fn invitations(&self) -> Result<Vec<InvitationInfo>> {
        self.get("/api/v1/invitations").await
    }
    /// `DELETE /api/v1/invitations/{id}`.
    pub async fn withdraw_invitation(&self, id: Uuid) -> Result<()> {
        self.send_empty(Method::DELETE, &format!("/api/v1/invitations/{id}")).await
    }
    /// `PATCH /api/v1/users/{user}`: role or disabled flag.
    pub async fn update_member(&self, user: Uuid, body: &UpdateMember) -> Result<MemberInfo> {
        self.send(Method::PATCH, &format!("/api/v1/users/{user}"), body).await
    }
    /// `DELETE /api/v1/users/{user}`: removes the member from the organization.
    pub async fn remove_member(&self, user: Uuid) -> Result<()> {
        self.send_empty(Method::DELETE, &format!("/api/v1/users/{user}")).await
    }
    /// `DELETE /api/v1/users/{user}/sessions`: ends every session of the member.
    pub async fn revoke_user_sessions(&self, user: Uuid) -> Result<RevokedSessions> {
        self.send(Method::DELETE, &format!("/api/v1/users/{user}/sessions"), &serde_json::json!({})).await
    }
    /// `POST /api/v1/scim/tokens`: a SCIM token for the current organization (shown once).
    pub async fn create_scim_token(&self, name: &str) -> Result<CreatedScimToken> {
        self.send(Method::POST, "/api/v1/scim/tokens", &CreateScimToken { name: name.into() }).await
    }
    /// `GET /api/v1/scim/tokens`.
    pub async fn scim_tokens(&self) -> Result<Vec<ScimTokenInfo>> {
        self.get("/api/v1/scim/tokens").await
    }
    /// `DELETE /api/v1/scim/tokens/{id}`.
    pub async fn revoke_scim_token(&self, id: Uuid) -> Result<()> {
        self.send_empty(Method::DELETE, &format!("/api/v1/scim/tokens/{id}")).await
    }
    /// `GET /api/v1/group-rules`.
    pub async fn group_rules(&self) -> Result<GroupRulesInfo> {
        self.get("/api/v1/group-rules").await
    }
    /// `PUT /api/v1/group-rules`.
    pub async fn put_group_rules(&self, rules: &PutGroupRules) -> Result<GroupRulesInfo> {
        self.send(Method::PUT, "/api/v1/group-rules", rules).await
    }
    /// `POST /api/v1/group-rules/dry-run`.
    pub async fn dry_run_group_rules(&self, run: &GroupRulesDryRun) -> Result<DryRunResult> {
        self.send(Method::POST, "/api/v1/group-rules/dry-run", run).await
    }
    /// `GET /api/v1/roles`.
    pub async fn roles(&self) -> Result<Vec<RoleInfo>> {
        self.get("/api/v1/roles").await
    }
    /// `POST /api/v1/roles`.
    pub async fn create_role(&self, body: &CreateRole) -> Result<RoleInfo> {
        self.send(Method::POST, "/api/v1/roles", body).await
    }
    /// `PATCH /api/v1/roles/{id}`.
    pub async fn update_role(&self, id: Uuid, body: &UpdateRole) -> Result<RoleInfo> {
        self.send(Method::PATCH, &format!("/api/v1/roles/{id}"), body).await
    }
    /// `DELETE /api/v1/roles/{id}` (custom roles only).
    pub async fn delete_role(&self, id: Uuid) -> Result<()> {
        self.send_empty(Method::DELETE, &format!("/api/v1/roles/{id}")).await
    }
    /// `GET /api/v1/automations`: those the caller may see.
    pub async fn automations(&self) -> Result<Vec<AutomationInfo>> {
        self.get("/api/v1/automations").await
    }
    /// `POST /api/v1/automations`.
    pub async fn create_automation(&self, body: &CreateAutomation) -> Result<AutomationInfo> {
        self.send(Method::POST, "/api/v1/automations", body).await
    }
    /// `GET /api/v1/automations/{id}`.
    pub async fn automation(&self, id: Uuid) -> Result<AutomationInfo> {
        self.get(&format!("/api/v1/automations/{id}")).await
    }
    /// `DELETE /api/v1/automations/{id}`.
    pub async fn delete_automation(&self, id: Uuid) -> Result<()> {
        self.send_empty(Method::DELETE, &format!("/api/v1/automations/{id}")).await
    }
    /// `GET /api/v1/automations/{id}/access`.
    pub async fn automation_access(&self, id: Uuid) -> Result<AutomationAccessInfo> {
        self.get(&format!("/api/v1/automations/{id}/access")).await
    }
    /// `PUT /api/v1/automations/{id}/access`: replaces visibility and grants.
    pub async fn set_automation_access(&self, id: Uuid, body: &AutomationAccessInfo) -> Result<AutomationAccessInfo> {
        self.send(Method::PUT, &format!("/api/v1/automations/{id}/access"), body).await
    }
    /// `PATCH /api/v1/automations/{id}`.
    pub async fn update_automation(&self, id: Uuid, body: &UpdateAutomation) -> Result<AutomationInfo> {
        self.send(Method::PATCH, &format!("/api/v1/automations/{id}"), body).await
    }
    /// `GET /api/v1/automations/{id}/inputs`, through the proxy.
    pub async fn automation_inputs(&self, id: Uuid) -> Result<serde_json::Value> {
        self.get(&format!("/api/v1/automations/{id}/inputs")).await
    }
    /// `POST /api/v1/automations/{id}/kickoff`, through the proxy.
    pub async fn kickoff(&self, id: Uuid, inputs: &serde_json::Value) -> Result<serde_json::Value> {
        self.send(Method::POST, &format!("/api/v1/automations/{id}/kickoff"), &serde_json::json!({ "inputs": inputs })).await
    }
    /// `GET /api/v1/automations/{id}/status/{kickoff_id}`, through the proxy.
    pub async fn kickoff_status(&self, id: Uuid, kickoff_id: &str) -> Result<serde_json::Value> {
        self.get(&format!("/api/v1/automations/{id}/status/{kickoff_id}")).await
    }
    /// `GET /api/v1/automations/{id}/executions`.
    pub async fn executions(&self, id: Uuid) -> Result<Vec<ExecutionInfo>> {
        self.get(&format!("/api/v1/automations/{id}/executions")).await
    }
    /// `GET /api/v1/env`: names and masks, never values.
    pub async fn env_list(&self) -> Result<Vec<EnvVarInfo>> {
        self.get("/api/v1/env").await
    }
    /// `PUT /api/v1/env`: sets (or rotates) a variable.
    pub async fn env_put(&self, body: &PutEnvVar) -> Result<EnvVarInfo> {
        self.send(Method::PUT, "/api/v1/env", body).await
    }
    /// `GET /api/v1/env/{id}/value`: reveals a value (audited).
    pub async fn env_value(&self, id: Uuid) -> Result<EnvVarValue> {
        self.get(&format!("/api/v1/env/{id}/value")).await
    }
    /// `DELETE /api/v1/env/{id}`.
    pub async fn env_delete(&self, id: Uuid) -> Result<()> {
        self.send_empty(Method::DELETE, &format!("/api/v1/env/{id}")).await
    }
    /// `GET /api/v1/usage{query}` (`query` starts with `?`).
    pub async fn usage(&self, query: &str) -> Result<UsageReport> {
        self.get(&format!("/api/v1/usage{query}")).await
    }
    /// `GET /api/v1/dashboard/automations`.
    pub async fn automations_dashboard(&self) -> Result<Vec<DashboardAutomation>> {
        self.get("/api/v1/dashboard/automations").await
    }
    /// `GET /api/v1/audit{query}` (`query` starts with `?`).
    pub async fn audit(&self, query: &str) -> Result<Vec<AuditEventInfo>> {
        self.get(&format!("/api/v1/audit{query}")).await
    }

    /// A request with the session cookie, the organization header and (for
    /// unsafe methods) the CSRF token.
    pub fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        let unsafe_method = !matches!(method, Method::GET | Method::HEAD | Method::OPTIONS);
        let mut rb = self.http.request(method, self.url(path));
        if let Some(org) = self.org {
            rb = rb.header("x-organization-id", org.to_string());
        }
        if let Some(t) = &self.bearer {
            rb = rb.bearer_auth(t);
        }
        if unsafe_method {
            if let Some(t) = &self.csrf {
                rb = rb.header("x-csrf-token", t);
            }
        }
        rb
    }

    /// A `GET` of `path`, decoded from JSON.
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        decode(self.request(Method::GET, path).send().await?).await
    }

    /// A request with a JSON body, decoded from JSON.
    pub async fn send<B: Serialize + ?Sized, T: DeserializeOwned>(&self, method: Method, path: &str, body: &B) -> Result<T> {
        decode(self.request(method, path).json(body).send().await?).await
    }

    /// A request without a body whose answer has none (204).
    pub async fn send_empty(&self, method: Method, path: &str) -> Result<()> {
        let resp = self.request(method, path).send().await?;
        if resp.status().is_success() {
            Ok(())
        } else {
            Err(error_from(resp).await)
        }
    }
}

async fn decode<T: DeserializeOwned>(resp: reqwest::Response) -> Result<T> {
    let status = resp.status();
    if !status.is_success() {
        return Err(error_from(resp).await);
    }
    let text = resp.text().await?;
    serde_json::from_str(&text).map_err(|e| ClientError::Unexpected { status, text: format!("{e}: {text}") })
}

async fn error_from(resp: reqwest::Response) -> ClientError {
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    match serde_json::from_str::<ErrorBody>(&text) {
        Ok(body) => ClientError::Api { status, body },
        Err(_) => ClientError::Unexpected { status, text },
    }
}

//! What every organization page starts with: the signed-in caller (or the
//! way to sign in), the organization of the address (`?org=`), and a
//! refusal that names the missing permission. The decision is the domain's
//! `decide`, as for the API; pages only turn its answer into a page.

use crate::error::Status;
use crate::pages;
use crate::session::{Caller, OrgScope};
use crate::state::AppState;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use portcullis_domain::{decide, Action, Decision, OrgId};

/// An organization in the switcher.
pub struct OrgOption {
    pub id: String,
    pub name: String,
    pub current: bool,
}

/// The organization a page is about, and the others it may switch to.
pub struct OrgSwitch {
    pub orgs: Vec<OrgOption>,
    /// The page the switcher reloads.
    pub action: &'static str,
    pub org_id: String,
    pub org_name: String,
}

impl OrgSwitch {
    /// The switcher of the page at `action` for `scope`.
    pub fn new(scope: &OrgScope, action: &'static str) -> Self {
        let orgs = scope.caller.ctx.memberships.iter().map(|m| OrgOption { id: m.org.id.to_string(), name: m.org.name.clone(), current: m.org.id == scope.org.id }).collect();
        OrgSwitch { orgs, action, org_id: scope.org.id.to_string(), org_name: scope.org.name.clone() }
    }
}

/// The way to sign in, coming back to `here` afterwards.
pub fn sign_in_first(here: &str) -> Response {
    let q = serde_urlencoded::to_string([("return_to", here)]).unwrap_or_default();
    Redirect::to(&format!("/auth/login?{q}")).into_response()
}

/// The scope of `caller` in the organization `org` (an id from the
/// address; empty for their first organization).
pub async fn in_org(state: &AppState, caller: Caller, org: &str) -> Result<OrgScope, Response> {
    let requested = match org.trim() {
        "" => None,
        o => Some(o.parse::<OrgId>().map_err(|_| pages::message(Status::BadRequest, "No such organization", "The organization in the address is not an id; pick one from the switcher.", Some(("/", "Home"))))?),
    };
    OrgScope::for_page(state, caller, requested).await.map_err(|e| pages::forms::refused(e, "/"))
}

/// The scope of a page view at `here`: signed in, in the organization of
/// the address.
pub async fn for_view(state: &AppState, headers: &HeaderMap, org: &str, here: &str) -> Result<OrgScope, Response> {
    let caller = Caller::from_headers(state, headers).await.map_err(|_| sign_in_first(here))?;
    in_org(state, caller, org).await
}

/// The scope of a form post from one of our pages (same origin, this
/// session's CSRF token); `back` is the page it came from.
pub async fn for_form(state: &AppState, headers: &HeaderMap, csrf_token: &str, org: &str, back: &str) -> Result<OrgScope, Response> {
    let caller = pages::forms::caller(state, headers, csrf_token, back).await?;
    in_org(state, caller, org).await
}

/// The domain's decision on `action`: nothing if allowed, else the 403
/// page of `area` naming what is missing (or 404 for what may not be known).
pub fn refusal(scope: &OrgScope, action: Action<'_>, area: &str) -> Option<Response> {
    refusal_of(decide(&scope.principal, action), area)
}

/// A decision as a page: nothing if allowed, else the refusal of `area`.
pub fn refusal_of(decision: Decision, area: &str) -> Option<Response> {
    match decision {
        Decision::Allow => None,
        Decision::Deny(d) => {
            crate::telemetry::rbac_denied(&d);
            Some(pages::message(Status::Forbidden, "Not allowed", &format!("{area}: {d}."), Some(("/", "Home"))))
        }
        Decision::NotFound => Some(pages::message(Status::NotFound, "Not found", &format!("{area}: no such thing here."), Some(("/", "Home")))),
    }
}

/// `path?org=<the scope's organization>`, the address of a page in it.
pub fn href(scope: &OrgScope, path: &str) -> String {
    let sep = if path.contains('?') { '&' } else { '?' };
    format!("{path}{sep}org={}", scope.org.id)
}

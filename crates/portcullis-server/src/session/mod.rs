//! Sessions: cookies built in one place, where a request comes from, starting
//! a session at sign-in, and the signed-in caller of a request. Nothing here
//! signs anyone in (that is `crate::signin`) or out (`crate::signout`).

pub mod cookies;
pub mod current;
pub mod org_scope;
pub mod request;
pub mod start;
pub mod transaction;

pub use cookies::{clear_cookie, cookie, form_cookie, set_cookie, verify_form_csrf, with_cookie};
pub use current::Caller;
pub use org_scope::{principal_in, OrgScope};
pub use request::{check_same_origin, client_ip, forwarded_client, ClientIp};
pub use crate::idp::session_link::IdpSessionInfo;
pub use start::start_session;

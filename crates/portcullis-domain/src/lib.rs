//! The Portcullis domain core.
//!
//! Everything here is plain data and pure functions: identifiers, permission
//! levels, roles, automation access lists, the RBAC decision, and the rules of
//! the session, device-authorization, setup-link and sign-in-throttle lifecycles. There is no HTTP
//! and no SQL in this crate, and time comes from an injectable [`Clock`], so
//! every rule can be unit-tested exhaustively.

pub mod automation;
pub mod clock;
pub mod device;
pub mod group_rules;
pub mod ids;
pub mod permission;
pub mod rbac;
pub mod role;
pub mod session;
pub mod token_hash;
pub mod throttle;
pub mod validation;

pub use automation::{AutomationAccess, AutomationAcl, EntityPermission, PermSet, Subject, Visibility};
pub use device::{DeviceGrant, DevicePolicy, DeviceStatus, PollOutcome, RefreshOutcome};
pub use clock::{Clock, ManualClock, SystemClock, Timestamp};
pub use ids::{AutomationId, OrgId, RoleId, SessionId, UserId};
pub use permission::{Feature, FeaturePermissions, Level, PermissionError};
pub use rbac::{decide, Action, Decision, Denial, OrgContext, Principal, Requirement, RoleRef};
pub use role::{custom_role_keys, Role, RoleKind};
pub use session::{SessionPolicy, SessionStatus, SessionTimes};
pub use token_hash::TokenHash;
pub use throttle::{address_key, Admission, FailureStats, Pressure, ThrottlePolicy};
pub use validation::ValidationError;

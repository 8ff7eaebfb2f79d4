//! An organization's group-to-role rules as stored.

use portcullis_domain::group_rules::RuleSet;
use portcullis_domain::{OrgId, Timestamp};

/// A rule set with what storage keeps about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredRuleSet {
    /// The organization it governs.
    pub org_id: OrgId,
    /// The rules, in order, and the answer when none matches.
    pub set: RuleSet,
    /// Whether sign-ins apply it (memberships then follow the IdP). A set
    /// that is turned off is kept, so that it is not seeded again.
    pub enabled: bool,
    /// Whether it was written from `PORTCULLIS_ROLE_MAPPING` and never
    /// edited since.
    pub seeded_from_env: bool,
    /// Bumped at every write, for optimistic concurrency (`If-Match`).
    pub version: i64,
    /// When it was last written.
    pub updated_at: Timestamp,
}

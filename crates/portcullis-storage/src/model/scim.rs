//! SCIM provisioning records: tokens, provisioned users and groups.

use portcullis_domain::{OrgId, Timestamp, TokenHash, UserId};

/// A SCIM token an identity provider provisions an organization with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScimToken {
    /// Its id.
    pub id: uuid::Uuid,
    /// The organization it provisions.
    pub org_id: OrgId,
    /// What the owner called it ("Okta", "Entra ID production").
    pub name: String,
    /// Who created it.
    pub created_by: Option<UserId>,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it was last used.
    pub last_used_at: Option<Timestamp>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<Timestamp>,
}

/// A token being created; only its hash is stored.
#[derive(Clone, Debug)]
pub struct NewScimToken {
    /// Its id.
    pub id: uuid::Uuid,
    /// The organization.
    pub org_id: OrgId,
    /// Its name.
    pub name: String,
    /// SHA-256 of the token.
    pub token_hash: TokenHash,
    /// Who creates it.
    pub created_by: UserId,
    /// When.
    pub created_at: Timestamp,
}

/// What a SCIM user resource says, as the columns that index it and the
/// whole canonical document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScimUserFields {
    /// `userName` (unique per organization, case-insensitively).
    pub user_name: String,
    /// `externalId` (unique per organization).
    pub external_id: Option<String>,
    /// `displayName`.
    pub display_name: Option<String>,
    /// `active`.
    pub active: bool,
    /// The account's e-mail address (primary e-mail, or `userName`).
    pub email: String,
    /// The canonical resource, JSON, without `id`, `meta` or `groups`.
    pub document: String,
}

/// A provisioned user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScimUser {
    /// The SCIM resource id.
    pub id: uuid::Uuid,
    /// The organization.
    pub org_id: OrgId,
    /// The Portcullis account.
    pub user_id: UserId,
    /// What the resource says.
    pub fields: ScimUserFields,
    /// Bumped at every change (the ETag, RFC 7644 §3.14).
    pub version: i64,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it last changed.
    pub updated_at: Timestamp,
}

/// Which index a lookup uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScimKey {
    /// `userName` / `displayName`, case-insensitively.
    Name,
    /// `externalId`, exactly.
    ExternalId,
}

/// What an update of a provisioned user did to their access.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccessChange {
    /// Nothing.
    Unchanged,
    /// Deactivated: membership ended, sessions and CLI logins revoked.
    Ended,
    /// Reactivated: membership restored (not the old sessions).
    Restored,
}

/// What a SCIM group resource says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScimGroupFields {
    /// `displayName` (unique per organization, case-insensitively).
    pub display_name: String,
    /// `externalId`.
    pub external_id: Option<String>,
    /// The canonical resource, JSON, without `id`, `meta` or `members`.
    pub document: String,
}

/// A group member, as a group lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScimMember {
    /// The member's SCIM user id.
    pub id: uuid::Uuid,
    /// Their `displayName` (or `userName`).
    pub display: String,
}

/// A provisioned group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScimGroup {
    /// The SCIM resource id.
    pub id: uuid::Uuid,
    /// The organization.
    pub org_id: OrgId,
    /// What the resource says.
    pub fields: ScimGroupFields,
    /// Its members.
    pub members: Vec<ScimMember>,
    /// Bumped at every change.
    pub version: i64,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it last changed.
    pub updated_at: Timestamp,
}

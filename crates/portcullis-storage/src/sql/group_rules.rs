//! Group-to-role rules: one set per organization, its rules in order by
//! position, replaced whole in one transaction over the version it was
//! read at.

use super::orgs::lock_org;
use super::{get_i64, get_id, get_opt_str, get_str, SqlStore};
use crate::{GroupRuleStore, Result, StoreError, StoredRuleSet};
use async_trait::async_trait;
use portcullis_domain::group_rules::{ClaimPath, GroupRule, GroupSource, KnownGroup, NoMatch, Pattern, RoleChoice, RuleSet};
use portcullis_domain::{OrgId, RoleId, RoleKind, Timestamp, UserId};
use sqlx::any::AnyRow;
use sqlx::{Any, Transaction};
use std::collections::HashMap;

const SET_COLS: &str = "org_id, enabled, no_match, default_role, seeded_from_env, version, updated_at";

fn corrupt(what: &str, value: &str) -> StoreError {
    StoreError::Corrupt(format!("group rules: {what} `{value}`"))
}

/// A stored role reference (`kind:owner`, `id:<uuid>`, `key:<key>`) as a choice.
fn role_choice(raw: &str) -> Result<RoleChoice> {
    match raw.split_once(':') {
        Some(("kind", k)) => RoleKind::parse(k).filter(|k| k.is_predefined()).map(RoleChoice::Kind).ok_or_else(|| corrupt("role", raw)),
        Some(("id", id)) => id.parse().map(|id| RoleChoice::Id(RoleId(id))).map_err(|_| corrupt("role", raw)),
        Some(("key", key)) if !key.is_empty() => Ok(RoleChoice::Key(key.to_owned())),
        _ => Err(corrupt("role", raw)),
    }
}

/// A choice as stored.
fn role_column(choice: &RoleChoice) -> String {
    match choice {
        RoleChoice::Kind(k) => format!("kind:{}", k.as_str()),
        RoleChoice::Id(id) => format!("id:{id}"),
        RoleChoice::Key(key) => format!("key:{key}"),
    }
}

fn rule_from_row(row: &AnyRow) -> Result<GroupRule> {
    let source = match get_str(row, "source")?.as_str() {
        "claim" => {
            let path = get_opt_str(row, "claim_path")?.unwrap_or_default();
            GroupSource::Claim(ClaimPath::parse(&path).map_err(|_| corrupt("claim path", &path))?)
        }
        "scim_group" => GroupSource::ScimGroup,
        "idp_roles" => GroupSource::IdpRoles,
        other => return Err(corrupt("source", other)),
    };
    let raw = get_str(row, "pattern")?;
    let pattern = Pattern::parse(get_i64(row, "glob")? == 1, &raw).map_err(|_| corrupt("pattern", &raw))?;
    let role = role_choice(&get_str(row, "role")?)?;
    Ok(GroupRule { source, pattern, role })
}

impl SqlStore {
    /// The sets for these rows, each with its rules.
    async fn sets_with_rules(&self, set_rows: Vec<AnyRow>, only: Option<OrgId>) -> Result<Vec<StoredRuleSet>> {
        if set_rows.is_empty() {
            return Ok(vec![]);
        }
        let rule_rows = match only {
            Some(org) => {
                sqlx::query("SELECT * FROM group_rules WHERE org_id = $1 ORDER BY position").bind(org.to_string()).fetch_all(self.pool()).await?
            }
            None => {
                sqlx::query("SELECT r.* FROM group_rules r JOIN group_rule_sets s ON s.org_id = r.org_id WHERE s.enabled = 1 ORDER BY r.org_id, r.position")
                    .fetch_all(self.pool())
                    .await?
            }
        };
        let mut rules: HashMap<OrgId, Vec<GroupRule>> = HashMap::new();
        for row in &rule_rows {
            rules.entry(get_id(row, "org_id")?).or_default().push(rule_from_row(row)?);
        }
        set_rows
            .iter()
            .map(|row| {
                let org_id: OrgId = get_id(row, "org_id")?;
                let no_match = match get_str(row, "no_match")?.as_str() {
                    "refuse" => NoMatch::Refuse,
                    "default" => NoMatch::Default(role_choice(&get_opt_str(row, "default_role")?.unwrap_or_default())?),
                    other => return Err(corrupt("no_match", other)),
                };
                Ok(StoredRuleSet {
                    org_id,
                    set: RuleSet { rules: rules.remove(&org_id).unwrap_or_default(), no_match },
                    enabled: get_i64(row, "enabled")? == 1,
                    seeded_from_env: get_i64(row, "seeded_from_env")? == 1,
                    version: get_i64(row, "version")?,
                    updated_at: Timestamp(get_i64(row, "updated_at")?),
                })
            })
            .collect()
    }

    /// Writes the set row and its rules, replacing what was there.
    #[allow(clippy::too_many_arguments)]
    async fn write_set(tx: &mut Transaction<'static, Any>, org: OrgId, set: &RuleSet, enabled: bool, seeded: bool, version: i64, now: Timestamp, insert: bool) -> Result<()> {
        let (default_role, no_match) = match &set.no_match {
            NoMatch::Refuse => (None, "refuse"),
            NoMatch::Default(choice) => (Some(role_column(choice)), "default"),
        };
        let sql = if insert {
            format!("INSERT INTO group_rule_sets ({SET_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7)")
        } else {
            "UPDATE group_rule_sets SET enabled = $2, no_match = $3, default_role = $4, seeded_from_env = $5, version = $6, updated_at = $7 WHERE org_id = $1".to_owned()
        };
        sqlx::query(&sql)
            .bind(org.to_string())
            .bind(enabled as i64)
            .bind(no_match)
            .bind(default_role)
            .bind(seeded as i64)
            .bind(version)
            .bind(now.0)
            .execute(&mut **tx)
            .await?;
        sqlx::query("DELETE FROM group_rules WHERE org_id = $1").bind(org.to_string()).execute(&mut **tx).await?;
        for (position, rule) in set.rules.iter().enumerate() {
            let (source, path) = match &rule.source {
                GroupSource::Claim(p) => ("claim", Some(p.as_str().to_owned())),
                GroupSource::ScimGroup => ("scim_group", None),
                GroupSource::IdpRoles => ("idp_roles", None),
            };
            sqlx::query("INSERT INTO group_rules (org_id, position, source, claim_path, glob, pattern, role) VALUES ($1, $2, $3, $4, $5, $6, $7)")
                .bind(org.to_string())
                .bind(position as i64)
                .bind(source)
                .bind(path)
                .bind(matches!(rule.pattern, Pattern::Glob(_)) as i64)
                .bind(rule.pattern.as_str().to_owned())
                .bind(role_column(&rule.role))
                .execute(&mut **tx)
                .await?;
        }
        Ok(())
    }
}

#[async_trait]
impl GroupRuleStore for SqlStore {
    async fn get_group_rules(&self, org: OrgId) -> Result<Option<StoredRuleSet>> {
        let rows = sqlx::query(&format!("SELECT {SET_COLS} FROM group_rule_sets WHERE org_id = $1")).bind(org.to_string()).fetch_all(self.pool()).await?;
        Ok(self.sets_with_rules(rows, Some(org)).await?.pop())
    }

    async fn list_enabled_group_rules(&self) -> Result<Vec<StoredRuleSet>> {
        let rows = sqlx::query(&format!("SELECT {SET_COLS} FROM group_rule_sets WHERE enabled = 1 ORDER BY org_id")).fetch_all(self.pool()).await?;
        self.sets_with_rules(rows, None).await
    }

    async fn put_group_rules(&self, org: OrgId, set: &RuleSet, enabled: bool, if_version: Option<i64>, now: Timestamp) -> Result<StoredRuleSet> {
        let mut tx = self.write_tx().await?;
        // The organization's row lock orders concurrent writers (and says
        // NotFound for an organization that is gone).
        lock_org(&mut tx, org, now).await?;
        let current = sqlx::query("SELECT version FROM group_rule_sets WHERE org_id = $1").bind(org.to_string()).fetch_optional(&mut *tx).await?;
        let current = current.map(|r| get_i64(&r, "version")).transpose()?;
        if current != if_version {
            return Err(StoreError::Stale);
        }
        let version = current.unwrap_or(0) + 1;
        Self::write_set(&mut tx, org, set, enabled, false, version, now, current.is_none()).await?;
        tx.commit().await?;
        Ok(StoredRuleSet { org_id: org, set: set.clone(), enabled, seeded_from_env: false, version, updated_at: now })
    }

    async fn seed_group_rules(&self, org: OrgId, set: &RuleSet, now: Timestamp) -> Result<bool> {
        let mut tx = self.write_tx().await?;
        lock_org(&mut tx, org, now).await?;
        let exists = sqlx::query("SELECT 1 FROM group_rule_sets WHERE org_id = $1").bind(org.to_string()).fetch_optional(&mut *tx).await?.is_some();
        if exists {
            return Ok(false);
        }
        Self::write_set(&mut tx, org, set, true, true, 1, now, true).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn known_groups(&self, org: OrgId, user: UserId) -> Result<Vec<KnownGroup>> {
        let rows = sqlx::query(
            "SELECT g.id, g.display_name, g.external_id, CAST(CASE WHEN EXISTS ( \
               SELECT 1 FROM scim_group_members m JOIN scim_users u ON u.org_id = m.org_id AND u.id = m.member_id \
               WHERE m.org_id = g.org_id AND m.group_id = g.id AND u.user_id = $2 AND u.active = 1) THEN 1 ELSE 0 END AS BIGINT) AS member \
             FROM scim_groups g WHERE g.org_id = $1 ORDER BY g.display_name_key",
        )
        .bind(org.to_string())
        .bind(user.to_string())
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                let mut ids = vec![get_str(row, "id")?];
                ids.extend(get_opt_str(row, "external_id")?);
                Ok(KnownGroup { display_name: get_str(row, "display_name")?, ids, member: get_i64(row, "member")? == 1 })
            })
            .collect()
    }
}

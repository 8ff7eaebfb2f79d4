//! Feature permissions: one [`Level`] per [`Feature`] for each role, as the
//! platform's RBAC page describes (see `shared/spec/rbac-model.md`).

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A permission level. Each level includes the ones below it:
/// `none < read < write < manage`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// No access.
    None = 0,
    /// See it.
    Read = 1,
    /// See and change it.
    Write = 2,
    /// Everything, including who else may.
    Manage = 3,
}

impl Level {
    /// Every level, lowest first.
    pub const ALL: [Level; 4] = [Level::None, Level::Read, Level::Write, Level::Manage];

    /// The wire name (`none`, `read`, `write`, `manage`).
    pub fn as_str(self) -> &'static str {
        match self {
            Level::None => "none",
            Level::Read => "read",
            Level::Write => "write",
            Level::Manage => "manage",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Level {
    type Err = PermissionError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Level::ALL
            .into_iter()
            .find(|l| l.as_str() == s)
            .ok_or_else(|| PermissionError::UnknownLevel(s.to_owned()))
    }
}

/// A feature area of the platform. The first four are the resources the SSO
/// page names (usage dashboard, automations dashboard, environment variables);
/// individual automations are guarded by entity permissions instead.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Feature {
    /// The usage dashboard.
    UsageDashboards = 0,
    /// The automations (crews) dashboard.
    CrewsDashboards = 1,
    /// Inviting people and managing members.
    Invitations = 2,
    /// The training interface.
    TrainingUi = 3,
    /// Tools.
    Tools = 4,
    /// Agents.
    Agents = 5,
    /// Environment variables (secrets).
    EnvironmentVariables = 6,
    /// LLM connections.
    LlmConnections = 7,
    /// Default settings.
    DefaultSettings = 8,
    /// Organization settings (roles, members, SSO).
    OrganizationSettings = 9,
    /// Studio projects.
    StudioProjects = 10,
}

const GRADED: &[Level] = &[Level::None, Level::Read, Level::Write, Level::Manage];
const ALL_OR_NOTHING: &[Level] = &[Level::None, Level::Manage];

impl Feature {
    /// How many features there are.
    pub const COUNT: usize = 11;
    /// Every feature, in the platform's order.
    pub const ALL: [Feature; Feature::COUNT] = [
        Feature::UsageDashboards,
        Feature::CrewsDashboards,
        Feature::Invitations,
        Feature::TrainingUi,
        Feature::Tools,
        Feature::Agents,
        Feature::EnvironmentVariables,
        Feature::LlmConnections,
        Feature::DefaultSettings,
        Feature::OrganizationSettings,
        Feature::StudioProjects,
    ];

    /// The wire name (`usage_dashboards`, `crews_dashboards`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Feature::UsageDashboards => "usage_dashboards",
            Feature::CrewsDashboards => "crews_dashboards",
            Feature::Invitations => "invitations",
            Feature::TrainingUi => "training_ui",
            Feature::Tools => "tools",
            Feature::Agents => "agents",
            Feature::EnvironmentVariables => "environment_variables",
            Feature::LlmConnections => "llm_connections",
            Feature::DefaultSettings => "default_settings",
            Feature::OrganizationSettings => "organization_settings",
            Feature::StudioProjects => "studio_projects",
        }
    }

    /// The levels a role may hold for this feature. Features the RBAC page
    /// marks "Manage / No access" accept only `none` and `manage`; the others
    /// accept every level (the SSO page adds `write` between read and manage).
    pub fn allowed_levels(self) -> &'static [Level] {
        match self {
            Feature::EnvironmentVariables
            | Feature::LlmConnections
            | Feature::DefaultSettings
            | Feature::OrganizationSettings
            | Feature::StudioProjects => ALL_OR_NOTHING,
            _ => GRADED,
        }
    }

    /// The predefined Member role's level (the Owner has `manage` everywhere).
    pub fn member_default(self) -> Level {
        match self {
            Feature::EnvironmentVariables | Feature::LlmConnections | Feature::StudioProjects => {
                Level::Manage
            }
            Feature::DefaultSettings | Feature::OrganizationSettings => Level::None,
            _ => Level::Read,
        }
    }
}

impl fmt::Display for Feature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Feature {
    type Err = PermissionError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Feature::ALL
            .into_iter()
            .find(|f| f.as_str() == s)
            .ok_or_else(|| PermissionError::UnknownFeature { name: s.to_owned() })
    }
}

/// Why a permission name or level was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PermissionError {
    /// No feature has this name.
    #[error("unknown feature `{name}`; valid features are: {list}", list = feature_list())]
    UnknownFeature {
        /// The name given.
        name: String,
    },
    /// No level has this name.
    #[error("unknown permission level `{0}`; valid levels are: none, read, write, manage")]
    UnknownLevel(String),
    /// The feature exists, but not at this level.
    #[error("level `{level}` is not allowed for feature `{feature}`; allowed levels are: {allowed}", allowed = join_levels(feature.allowed_levels()))]
    LevelNotAllowed {
        /// The feature.
        feature: Feature,
        /// The level it does not allow.
        level: Level,
    },
}

fn feature_list() -> String {
    Feature::ALL.iter().map(|f| f.as_str()).collect::<Vec<_>>().join(", ")
}

fn join_levels(levels: &[Level]) -> String {
    levels.iter().map(|l| l.as_str()).collect::<Vec<_>>().join(", ")
}

/// One level per feature. Constructed only through checked setters, so a
/// value of this type never holds a level its feature does not allow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FeaturePermissions([Level; Feature::COUNT]);

impl FeaturePermissions {
    /// No access to anything.
    pub fn none() -> Self {
        Self([Level::None; Feature::COUNT])
    }
    /// What owners hold: `manage` everywhere.
    pub fn owner() -> Self {
        Self([Level::Manage; Feature::COUNT])
    }
    /// What the predefined member role holds by default.
    pub fn member() -> Self {
        let mut p = Self::none();
        for f in Feature::ALL {
            p.0[f as usize] = f.member_default();
        }
        p
    }

    /// The level held for `feature`.
    pub fn get(&self, feature: Feature) -> Level {
        self.0[feature as usize]
    }

    /// Sets `feature` to `level`, if the feature allows that level.
    pub fn set(&mut self, feature: Feature, level: Level) -> Result<(), PermissionError> {
        if !feature.allowed_levels().contains(&level) {
            return Err(PermissionError::LevelNotAllowed { feature, level });
        }
        self.0[feature as usize] = level;
        Ok(())
    }

    /// Builds permissions from `(feature, level)` names, as they arrive from
    /// the API or the database. Features not named are `none`.
    pub fn from_pairs<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, PermissionError> {
        let mut p = Self::none();
        for (f, l) in pairs {
            p.set(f.parse()?, l.parse()?)?;
        }
        Ok(p)
    }

    /// Every feature with its level, in a stable order.
    pub fn iter(&self) -> impl Iterator<Item = (Feature, Level)> + '_ {
        Feature::ALL.into_iter().map(|f| (f, self.get(f)))
    }

    /// The higher of the two levels for each feature (a user holding several
    /// roles gets the union of what they grant).
    pub fn union(&self, other: &Self) -> Self {
        let mut out = *self;
        for f in Feature::ALL {
            out.0[f as usize] = self.get(f).max(other.get(f));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_matrix_matches_the_spec() {
        let m = FeaturePermissions::member();
        assert_eq!(m.get(Feature::UsageDashboards), Level::Read);
        assert_eq!(m.get(Feature::CrewsDashboards), Level::Read);
        assert_eq!(m.get(Feature::Invitations), Level::Read);
        assert_eq!(m.get(Feature::TrainingUi), Level::Read);
        assert_eq!(m.get(Feature::Tools), Level::Read);
        assert_eq!(m.get(Feature::Agents), Level::Read);
        assert_eq!(m.get(Feature::EnvironmentVariables), Level::Manage);
        assert_eq!(m.get(Feature::LlmConnections), Level::Manage);
        assert_eq!(m.get(Feature::DefaultSettings), Level::None);
        assert_eq!(m.get(Feature::OrganizationSettings), Level::None);
        assert_eq!(m.get(Feature::StudioProjects), Level::Manage);
        assert!(FeaturePermissions::owner().iter().all(|(_, l)| l == Level::Manage));
    }

    #[test]
    fn disallowed_level_is_refused_with_the_allowed_list() {
        let err = FeaturePermissions::from_pairs([("environment_variables", "read")]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "level `read` is not allowed for feature `environment_variables`; allowed levels are: none, manage"
        );
    }

    #[test]
    fn unknown_names_are_refused() {
        assert!(matches!(
            FeaturePermissions::from_pairs([("billing", "read")]),
            Err(PermissionError::UnknownFeature { .. })
        ));
        assert!(matches!(
            FeaturePermissions::from_pairs([("tools", "admin")]),
            Err(PermissionError::UnknownLevel(_))
        ));
    }

    #[test]
    fn every_feature_allows_none_and_manage_and_levels_are_ordered() {
        for f in Feature::ALL {
            assert!(f.allowed_levels().contains(&Level::None));
            assert!(f.allowed_levels().contains(&Level::Manage));
            assert!(f.allowed_levels().contains(&f.member_default()));
            assert_eq!(f.as_str().parse::<Feature>().unwrap(), f);
        }
        assert!(Level::None < Level::Read && Level::Read < Level::Write && Level::Write < Level::Manage);
    }
}

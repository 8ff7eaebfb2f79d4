//! Group-to-role rules: which role in an organization a person's IdP groups
//! (or roles) give them, decided the same way at every sign-in and in the
//! admin panel's dry run.
//!
//! A rule set is ordered; the first rule that matches and whose role still
//! exists decides. Each set says what happens when none does: refuse, or a
//! named default role, so nothing falls back silently. Roles are named by
//! kind (owner, member) or by id, never by their display name, which any
//! administrator may change: renaming a custom role to "Owner" makes nobody
//! an owner.
//!
//! Groups come from a claim of the IdP's token (a dotted path such as
//! `groups` or `realm_access.roles`) or from the organization's SCIM groups
//! the person is a member of. Either may name a group by its display name or
//! by an id (Entra ID puts object ids in `groups`); a value that is the id or
//! external id of a SCIM group also matches by that group's name.

use crate::ids::RoleId;
use crate::role::{Role, RoleKind};
use crate::validation::ValidationError;

/// The longest pattern or claim path accepted (characters).
pub const MAX_PATTERN_CHARS: usize = 256;
/// The most rules one organization may have.
pub const MAX_RULES: usize = 200;

/// A claim of the IdP's token, as a dotted path (`groups`,
/// `realm_access.roles`). A top-level claim whose own name has dots (Auth0's
/// namespaced `https://example.com/roles`) is found by its whole name first.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ClaimPath(String);

impl ClaimPath {
    /// A path of non-empty segments, without spaces.
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let s = raw.trim();
        if s.is_empty() {
            return Err(ValidationError::new("claim", "must name a claim of the IdP's token (e.g. \"groups\" or \"realm_access.roles\")"));
        }
        if s.chars().count() > MAX_PATTERN_CHARS || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(ValidationError::new("claim", format!("must be at most {MAX_PATTERN_CHARS} characters without spaces (e.g. \"groups\")")));
        }
        Ok(Self(s.to_owned()))
    }

    /// The path as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Where a rule looks for groups.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GroupSource {
    /// The roles the provider's adapter reads, wherever its vendor puts them
    /// (Okta's `groups`, Entra ID's `roles`, Keycloak's `realm_access.roles`,
    /// Auth0's namespaced claim, a SAML role attribute): what
    /// `PORTCULLIS_ROLE_MAPPING` matched, so its rules keep their meaning.
    IdpRoles,
    /// The strings at a claim of the IdP's token (a string or a list of them).
    Claim(ClaimPath),
    /// The organization's SCIM groups the person is a member of.
    ScimGroup,
}

/// How a rule's pattern is compared with a group: exactly, or as a glob
/// where `*` stands for any run of characters and `?` for one. Both are
/// case-sensitive, as the IdPs' group names and ids are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Pattern {
    /// Equal, character for character.
    Exact(String),
    /// `*` for any run of characters, `?` for one.
    Glob(String),
}

impl Pattern {
    /// A non-empty pattern of at most [`MAX_PATTERN_CHARS`], trimmed.
    pub fn parse(glob: bool, raw: &str) -> Result<Self, ValidationError> {
        let s = raw.trim();
        if s.is_empty() {
            return Err(ValidationError::new("pattern", "must not be empty (e.g. \"engineering\", or the glob \"eng-*\")"));
        }
        if s.chars().count() > MAX_PATTERN_CHARS || s.chars().any(char::is_control) {
            return Err(ValidationError::new("pattern", format!("must be at most {MAX_PATTERN_CHARS} characters, without control characters")));
        }
        Ok(if glob { Pattern::Glob(s.to_owned()) } else { Pattern::Exact(s.to_owned()) })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        match self {
            Pattern::Exact(s) | Pattern::Glob(s) => s,
        }
    }

    /// Whether `value` matches.
    pub fn matches(&self, value: &str) -> bool {
        match self {
            Pattern::Exact(p) => p == value,
            Pattern::Glob(p) => glob_matches(p, value),
        }
    }
}

/// `*` and `?` over characters, in linear passes (no exponential
/// backtracking on hostile patterns): the two-pointer match that returns to
/// the last `*` and lets it take one more character.
fn glob_matches(pattern: &str, value: &str) -> bool {
    let (p, v): (Vec<char>, Vec<char>) = (pattern.chars().collect(), value.chars().collect());
    let (mut pi, mut vi) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while vi < v.len() {
        if pi < p.len() && p[pi] == '*' {
            star = Some((pi, vi));
            pi += 1;
        } else if pi < p.len() && (p[pi] == '?' || p[pi] == v[vi]) {
            pi += 1;
            vi += 1;
        } else if let Some((sp, sv)) = star {
            pi = sp + 1;
            vi = sv + 1;
            star = Some((sp, sv + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// A role, by what no rename changes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RoleChoice {
    /// A predefined role (owner or member) by its kind.
    Kind(RoleKind),
    /// A role by its id.
    Id(RoleId),
    /// A custom role by its key, which is set at creation and never changes
    /// (`PORTCULLIS_ROLE_MAPPING` names custom roles so, before they exist).
    Key(String),
}

impl RoleChoice {
    /// The organization's role this names, if it still exists.
    pub fn resolve<'r>(&self, roles: &'r [Role]) -> Option<&'r Role> {
        match self {
            RoleChoice::Kind(kind) => roles.iter().find(|r| r.kind == *kind && kind.is_predefined()),
            RoleChoice::Id(id) => roles.iter().find(|r| r.id == *id),
            // The key as written (`data science`, from before keys were
            // slugs) or as its slug (`data-science`).
            RoleChoice::Key(key) => roles.iter().find(|r| {
                r.kind == RoleKind::Custom && (r.key == *key || crate::role::custom_role_keys(key).next().is_some_and(|slug| r.key == slug))
            }),
        }
    }
}

/// One rule: groups from `source` matching `pattern` give `role`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupRule {
    /// Where the groups come from.
    pub source: GroupSource,
    /// What a group must look like.
    pub pattern: Pattern,
    /// The role it gives.
    pub role: RoleChoice,
}

/// What happens when no rule matches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NoMatch {
    /// No role in the organization: an existing membership ends, and a
    /// sign-in that leaves the person in no organization is refused.
    Refuse,
    /// This role.
    Default(RoleChoice),
}

/// An organization's ordered rules and its answer when none matches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleSet {
    /// In order: the first that matches (with an existing role) decides.
    pub rules: Vec<GroupRule>,
    /// The answer when none does.
    pub no_match: NoMatch,
}

/// A SCIM group of the organization, by every name it may arrive as.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KnownGroup {
    /// The name it was provisioned with.
    pub display_name: String,
    /// The SCIM id and, when the IdP set one, its external id (Entra ID's object id).
    pub ids: Vec<String>,
    /// Whether the person is one of its members.
    pub member: bool,
}

/// What the rules are evaluated against.
pub struct Groups<'a> {
    /// The roles the provider's adapter read.
    pub idp_roles: &'a [String],
    /// The strings at a claim path of the token (empty when absent).
    pub claim: &'a dyn Fn(&ClaimPath) -> Vec<String>,
    /// The organization's SCIM groups.
    pub known: &'a [KnownGroup],
}

impl Groups<'_> {
    /// The values a rule's pattern is tried on, each with its aliases: a
    /// claim value that is a known group's id also stands for its name.
    fn values(&self, source: &GroupSource) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let mut push = |v: &str| {
            if !out.iter().any(|o| o == v) {
                out.push(v.to_owned());
            }
        };
        match source {
            GroupSource::IdpRoles => {
                for v in self.idp_roles {
                    push(v);
                    for g in self.known.iter().filter(|g| g.ids.iter().any(|id| id == v)) {
                        push(&g.display_name);
                    }
                }
            }
            GroupSource::Claim(path) => {
                for v in (self.claim)(path) {
                    push(&v);
                    for g in self.known.iter().filter(|g| g.ids.contains(&v)) {
                        push(&g.display_name);
                    }
                }
            }
            GroupSource::ScimGroup => {
                for g in self.known.iter().filter(|g| g.member) {
                    push(&g.display_name);
                    g.ids.iter().for_each(|id| push(id));
                }
            }
        }
        out
    }
}

/// Why a rule that matched did not decide.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Skipped {
    /// An earlier rule decided.
    Later,
    /// Its role no longer exists (deleted); the next rule is tried.
    RoleMissing,
}

/// A rule that matched, and the values it matched.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleMatch {
    /// The rule's place (0-based) in the set.
    pub index: usize,
    /// The group values (names or ids) that matched its pattern.
    pub values: Vec<String>,
    /// `None` for the rule that decided.
    pub skipped: Option<Skipped>,
}

/// The decision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Rule `index` gave `role`.
    Rule {
        /// The rule's place (0-based).
        index: usize,
        /// The role it gave.
        role: Role,
    },
    /// No rule matched: the set's default role.
    Default {
        /// The default role.
        role: Role,
    },
    /// No rule matched and the set refuses.
    Refused,
    /// No rule matched and the default role no longer exists: refused too,
    /// as failing open would give a role nobody chose.
    DefaultMissing,
}

impl Outcome {
    /// The role given, if any.
    pub fn role(&self) -> Option<&Role> {
        match self {
            Outcome::Rule { role, .. } | Outcome::Default { role } => Some(role),
            Outcome::Refused | Outcome::DefaultMissing => None,
        }
    }
}

/// Every rule that matched, in order, and the decision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Evaluation {
    /// Every rule that matched, in order, deciding or not.
    pub matches: Vec<RuleMatch>,
    /// What the person gets.
    pub outcome: Outcome,
}

impl RuleSet {
    /// Checks the set's size. (Patterns and paths are checked as parsed.)
    pub fn validate(&self) -> Result<(), ValidationError> {
        if self.rules.len() > MAX_RULES {
            return Err(ValidationError::new("rules", format!("at most {MAX_RULES} rules per organization ({} given)", self.rules.len())));
        }
        Ok(())
    }

    /// Evaluates the rules in order against `groups`, with the organization's `roles`.
    pub fn evaluate(&self, groups: &Groups<'_>, roles: &[Role]) -> Evaluation {
        let mut matches = Vec::new();
        let mut decided: Option<Outcome> = None;
        for (index, rule) in self.rules.iter().enumerate() {
            let values: Vec<String> = groups.values(&rule.source).into_iter().filter(|v| rule.pattern.matches(v)).collect();
            if values.is_empty() {
                continue;
            }
            let skipped = if decided.is_some() {
                Some(Skipped::Later)
            } else if let Some(role) = rule.role.resolve(roles) {
                decided = Some(Outcome::Rule { index, role: role.clone() });
                None
            } else {
                Some(Skipped::RoleMissing)
            };
            matches.push(RuleMatch { index, values, skipped });
        }
        let outcome = decided.unwrap_or_else(|| match &self.no_match {
            NoMatch::Refuse => Outcome::Refused,
            NoMatch::Default(choice) => match choice.resolve(roles) {
                Some(role) => Outcome::Default { role: role.clone() },
                None => Outcome::DefaultMissing,
            },
        });
        Evaluation { matches, outcome }
    }
}

#[cfg(test)]
mod tests;

//! Records as storage returns them, by what they are about.

mod accounts;
mod automations;
mod group_rules;
mod oauth;
mod records;
mod scim;

pub use accounts::*;
pub use automations::*;
pub use group_rules::*;
pub use oauth::*;
pub use records::*;
pub use scim::*;

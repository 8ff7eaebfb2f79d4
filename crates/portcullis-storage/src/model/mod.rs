//! Records as storage returns them, by what they are about.

mod accounts;
mod automations;
mod oauth;
mod records;

pub use accounts::*;
pub use automations::*;
pub use oauth::*;
pub use records::*;

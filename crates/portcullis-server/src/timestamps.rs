//! Times as RFC 3339 text, as the API, the pages and messages show them.

use portcullis_domain::Timestamp;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// `t` as RFC 3339 (UTC), or empty for a time out of range.
pub fn rfc3339(t: Timestamp) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(t.0 as i128 * 1_000_000)
        .ok()
        .and_then(|d| d.format(&Rfc3339).ok())
        .unwrap_or_default()
}

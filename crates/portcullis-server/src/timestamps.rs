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

/// `t` as people read it on pages: `2026-12-01 13:40 UTC`.
pub fn human(t: Timestamp) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    OffsetDateTime::from_unix_timestamp_nanos(t.0 as i128 * 1_000_000).ok().and_then(|d| d.format(&format).ok()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_as_rfc3339_and_as_people_read_them() {
        let t = Timestamp(1_796_132_438_366);
        assert_eq!(rfc3339(t), "2026-12-01T13:40:38.366Z");
        assert_eq!(human(t), "2026-12-01 13:40 UTC");
    }
}

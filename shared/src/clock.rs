//! Wall-clock time as stored: milliseconds since the Unix epoch, and its RFC 3339 form.

use std::time::{SystemTime, UNIX_EPOCH};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// Now, in milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// A timestamp in RFC 3339 (`2026-12-01T18:20:00.123Z`), as the APIs show it.
pub fn rfc3339(ms: u64) -> String {
    let nanos = i128::from(ms) * 1_000_000;
    OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| ms.to_string())
}

/// Reads an RFC 3339 timestamp into milliseconds since the epoch.
pub fn parse_rfc3339(text: &str) -> Option<u64> {
    let t = OffsetDateTime::parse(text, &Rfc3339).ok()?;
    u64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok()
}

/// `HH:MM UTC` of a timestamp, the way a remedy says when a retry happens.
pub fn clock_time(ms: u64) -> String {
    let secs = ms / 1000;
    format!("{:02}:{:02} UTC", (secs / 3600) % 24, (secs / 60) % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_round_trips_milliseconds() {
        let ms = 1_764_613_200_123;
        let text = rfc3339(ms);
        assert_eq!(text, "2025-12-01T18:20:00.123Z");
        assert_eq!(parse_rfc3339(&text), Some(ms));
        assert_eq!(
            parse_rfc3339("2025-12-01T19:20:00+01:00"),
            Some(1_764_613_200_000)
        );
        assert_eq!(parse_rfc3339("yesterday"), None);
    }

    #[test]
    fn clock_time_reads_hours_and_minutes() {
        assert_eq!(clock_time(1_764_613_200_123), "18:20 UTC");
    }
}

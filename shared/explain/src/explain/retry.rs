//! When to try again: Retry-After, rate-limit reset headers, and waits stated in bodies.

use super::body::{at, Body};
use serde_json::Value;
use std::time::SystemTime;

/// Below this, an `X-RateLimit-Reset` value is a delta in seconds; above, a Unix time.
const EPOCH_THRESHOLD: u64 = 1_000_000_000;

/// The headers of a response, looked up by name in any case.
pub(crate) struct Headers<'a>(pub(crate) &'a [(String, String)]);

impl<'a> Headers<'a> {
    /// The first value of a header, trimmed.
    pub(crate) fn get(&self, name: &str) -> Option<&'a str> {
        self.0
            .iter()
            .find(|(k, _)| k.trim().eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim())
    }
}

/// The response's own clock (its `Date` header), else the given fallback.
fn response_now(headers: &Headers<'_>, fallback: SystemTime) -> SystemTime {
    headers
        .get("date")
        .and_then(|d| httpdate::parse_http_date(d).ok())
        .unwrap_or(fallback)
}

fn seconds_until(target: SystemTime, now: SystemTime) -> u64 {
    // A date in the past means "now": wait zero seconds, never a negative number.
    target
        .duration_since(now)
        .map_or(0, |d| d.as_secs() + u64::from(d.subsec_nanos() > 0))
}

/// Parses a delta-seconds value leniently: `30`, ` 30 `, `30.2` (rounded up). Negative → 0.
fn delta_seconds(v: &str) -> Option<u64> {
    let v = v.trim();
    if let Ok(n) = v.parse::<u64>() {
        return Some(n);
    }
    let f = v.parse::<f64>().ok()?;
    if !f.is_finite() {
        return None;
    }
    // Saturating float-to-int conversion: negatives become 0, huge values u64::MAX.
    Some(f.max(0.0).ceil() as u64)
}

/// `Retry-After: <seconds>` or `Retry-After: <HTTP-date>` (relative to the response's Date).
pub(crate) fn retry_after_header(headers: &Headers<'_>, now: SystemTime) -> Option<u64> {
    let v = headers.get("retry-after")?;
    if let Some(s) = delta_seconds(v) {
        return Some(s);
    }
    let date = httpdate::parse_http_date(v).ok()?;
    Some(seconds_until(date, response_now(headers, now)))
}

/// The reset headers of rate-limit schemes; they state a wait only when a limit was hit.
pub(crate) fn reset_headers(headers: &Headers<'_>, now: SystemTime) -> Option<u64> {
    for name in ["ratelimit-reset", "x-sib-ratelimit-reset"] {
        if let Some(s) = headers.get(name).and_then(delta_seconds) {
            return Some(s);
        }
    }
    let reset = headers.get("x-ratelimit-reset").and_then(delta_seconds)?;
    if reset < EPOCH_THRESHOLD {
        return Some(reset);
    }
    // A time no clock can hold is no wait at all, not a panic.
    let target = SystemTime::UNIX_EPOCH.checked_add(std::time::Duration::from_secs(reset))?;
    Some(seconds_until(target, response_now(headers, now)))
}

/// A wait stated in the body: `"retry_after": 12`, `"retryAfter": "12"`, or prose such as
/// `Expected available in 56 seconds.` or `try again in 2 minutes`.
pub(crate) fn from_body(body: &Body<'_>, message: Option<&str>) -> Option<u64> {
    if let Some(json) = body.json() {
        if let Some(s) = json_wait(json) {
            return Some(s);
        }
    }
    message
        .and_then(prose_wait)
        .or_else(|| body.text().and_then(prose_wait))
}

fn json_wait(json: &Value) -> Option<u64> {
    let candidates = [
        &["retry_after"][..],
        &["retryAfter"],
        &["retry_after_seconds"],
        &["error", "retry_after"],
        &["errors", "0", "retry_after"],
        &["errors", "0", "meta", "retry_after"],
    ];
    candidates.iter().find_map(|path| match at(json, path)? {
        Value::Number(n) => n
            .as_u64()
            .or_else(|| n.as_f64().map(|f| f.max(0.0).ceil() as u64)),
        Value::String(s) => delta_seconds(s),
        _ => None,
    })
}

/// Finds `<n> second(s)` or `<n> minute(s)` after a phrase that announces a wait.
///
/// One pass over the text without allocating: every run of digits is checked for a cue
/// just before it, since most messages state no wait and have few digits.
pub(crate) fn prose_wait(text: &str) -> Option<u64> {
    const CUES: [&str; 6] = [
        "available in ",
        "try again in ",
        "retry in ",
        "retry after ",
        "wait ",
        "try again after ",
    ];
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if !bytes[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        let before = &bytes[..start];
        let cued = CUES.iter().any(|cue| {
            before.len() >= cue.len()
                && before[before.len() - cue.len()..].eq_ignore_ascii_case(cue.as_bytes())
        });
        if !cued {
            continue;
        }
        let Ok(n) = text[start..i].parse::<u64>() else {
            continue;
        };
        let unit = text[i..].trim_start().as_bytes();
        let unit_is =
            |u: &str| unit.len() >= u.len() && unit[..u.len()].eq_ignore_ascii_case(u.as_bytes());
        let factor = if unit_is("min") {
            60
        } else if unit_is("hour") {
            3600
        } else if unit_is("ms") || unit_is("milli") {
            return Some(n.div_ceil(1000));
        } else {
            1
        };
        return Some(n.saturating_mul(factor));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_reset_time_past_what_a_clock_holds_states_no_wait() {
        // Found by the property test: a 429 with this header panicked in SystemTime.
        let h = headers(&[("X-RateLimit-Reset", "9223372036854775808")]);
        assert_eq!(reset_headers(&Headers(&h), SystemTime::now()), None);
        let h = headers(&[("X-RateLimit-Reset", "18446744073709551615")]);
        assert_eq!(reset_headers(&Headers(&h), SystemTime::now()), None);
    }

    #[test]
    fn retry_after_seconds_are_taken_as_is() {
        let h = headers(&[("retry-AFTER", " 30 ")]);
        assert_eq!(
            retry_after_header(&Headers(&h), SystemTime::now()),
            Some(30)
        );
    }

    #[test]
    fn retry_after_date_is_measured_against_the_response_date() {
        let h = headers(&[
            ("Retry-After", "Wed, 21 Oct 2015 07:28:00 GMT"),
            ("Date", "Wed, 21 Oct 2015 07:26:30 GMT"),
        ]);
        assert_eq!(
            retry_after_header(&Headers(&h), SystemTime::UNIX_EPOCH),
            Some(90)
        );
    }

    #[test]
    fn retry_after_date_without_a_date_header_uses_now() {
        let h = headers(&[("Retry-After", "Wed, 21 Oct 2015 07:28:00 GMT")]);
        let now = httpdate::parse_http_date("Wed, 21 Oct 2015 07:27:00 GMT").unwrap();
        assert_eq!(retry_after_header(&Headers(&h), now), Some(60));
    }

    #[test]
    fn a_retry_after_date_in_the_past_means_zero() {
        let h = headers(&[
            ("Retry-After", "Wed, 21 Oct 2015 07:28:00 GMT"),
            ("Date", "Wed, 21 Oct 2015 08:00:00 GMT"),
        ]);
        assert_eq!(retry_after_header(&Headers(&h), SystemTime::now()), Some(0));
    }

    #[test]
    fn garbage_retry_after_is_ignored() {
        let h = headers(&[("Retry-After", "soon")]);
        assert_eq!(retry_after_header(&Headers(&h), SystemTime::now()), None);
    }

    #[test]
    fn sendgrid_reset_is_a_unix_time_against_date() {
        let h = headers(&[
            ("X-RateLimit-Reset", "1445412480"),
            ("Date", "Wed, 21 Oct 2015 07:27:00 GMT"),
        ]);
        assert_eq!(
            reset_headers(&Headers(&h), SystemTime::UNIX_EPOCH),
            Some(60)
        );
    }

    #[test]
    fn ietf_and_brevo_resets_are_deltas() {
        let h = headers(&[("RateLimit-Reset", "7")]);
        assert_eq!(reset_headers(&Headers(&h), SystemTime::now()), Some(7));
        let h = headers(&[("x-sib-ratelimit-reset", "3")]);
        assert_eq!(reset_headers(&Headers(&h), SystemTime::now()), Some(3));
    }

    #[test]
    fn prose_waits_are_read_with_their_unit() {
        assert_eq!(
            prose_wait("Request was throttled. Expected available in 56 seconds."),
            Some(56)
        );
        assert_eq!(prose_wait("Please try again in 2 minutes"), Some(120));
        assert_eq!(prose_wait("retry after 1500ms"), Some(2));
        assert_eq!(prose_wait("no wait stated"), None);
        assert_eq!(prose_wait("Order 66 failed; RETRY IN 3 Minutes"), Some(180));
        assert_eq!(prose_wait("wait 7"), Some(7));
    }

    #[test]
    fn json_bodies_can_state_the_wait() {
        let body = Body::parse(br#"{"error":"slow down","retry_after":12}"#);
        assert_eq!(from_body(&body, None), Some(12));
        let body = Body::parse(br#"{"retryAfter":"2.5"}"#);
        assert_eq!(from_body(&body, None), Some(3));
    }
}

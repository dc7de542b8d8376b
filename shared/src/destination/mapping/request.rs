//! The wire shapes every destination's requests share: headers, bodies, path segments.

use crate::exchange::HeaderValue;
use crate::keys::Secret;
use serde_json::Value;

/// The headers every JSON API request carries: who we are, what we send and accept.
pub fn json_headers(content_type: &str) -> Vec<(String, HeaderValue)> {
    vec![
        (
            "user-agent".into(),
            HeaderValue::Plain(concat!("leadrelay/", env!("CARGO_PKG_VERSION")).into()),
        ),
        (
            "content-type".into(),
            HeaderValue::Plain(content_type.into()),
        ),
        ("accept".into(), HeaderValue::Plain(content_type.into())),
    ]
}

/// The headers of a form-encoded request that expects JSON back (an OAuth token request).
pub fn form_headers() -> Vec<(String, HeaderValue)> {
    let mut headers = json_headers("application/x-www-form-urlencoded");
    headers.retain(|(n, _)| n != "accept");
    headers.push((
        "accept".into(),
        HeaderValue::Plain("application/json".into()),
    ));
    headers
}

/// Whether an API version reads `vNN.N` (`v62.0`, `v9.2`).
pub fn is_api_version(v: &str) -> bool {
    v.strip_prefix('v')
        .and_then(|n| n.split_once('.'))
        .is_some_and(|(a, b)| {
            !a.is_empty()
                && !b.is_empty()
                && a.bytes().all(|c| c.is_ascii_digit())
                && b.bytes().all(|c| c.is_ascii_digit())
        })
}

/// A header that holds a secret (never shown in a log or an attempt record).
pub fn secret_header(name: &str, value: String) -> (String, HeaderValue) {
    (name.to_owned(), HeaderValue::Secret(Secret::new(value)))
}

/// Encodes one URL path segment (RFC 3986 unreserved characters stay as they are).
pub fn path_segment(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// An `application/x-www-form-urlencoded` body (every byte but RFC 3986's unreserved
/// ones percent-encoded, which form decoders read alike).
pub fn form_body(pairs: &[(&str, &str)]) -> Vec<u8> {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", path_segment(k), path_segment(v)))
        .collect::<Vec<_>>()
        .join("&")
        .into_bytes()
}

/// The JSON body of a request, as bytes.
pub fn json_body(value: &Value) -> Vec<u8> {
    value.to_string().into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_segments_are_percent_encoded() {
        assert_eq!(path_segment("lena+1@example.com"), "lena%2B1%40example.com");
        assert_eq!(path_segment("a b/c"), "a%20b%2Fc");
    }
}

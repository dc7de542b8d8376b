//! Reading a response body of any shape: JSON, HTML, plain text, binary, huge or cut short.

use serde_json::Value;
use std::borrow::Cow;

/// Bodies larger than this are not parsed as JSON; their opening is scanned as text.
/// Provider error bodies are a few hundred bytes; a megabyte of JSON is not an error report.
pub(crate) const MAX_JSON_BYTES: usize = 1 << 20;

/// How much of a non-JSON body is kept for scanning.
pub(crate) const MAX_TEXT_BYTES: usize = 4096;

/// A response body, parsed as far as it could be.
#[derive(Debug)]
pub(crate) enum Body<'a> {
    /// No body, or only whitespace.
    Empty,
    /// A JSON document.
    Json(Value),
    /// An HTML page (a proxy's or a web server's error page) or an XML document (an API
    /// answering in XML, a SOAP fault), with its title, heading or message.
    Html {
        /// The `<title>` or first `<h1>`, else the first message-like element
        /// (`<Message>`, `<faultstring>`, `<error>`, ...), tags stripped, whitespace
        /// collapsed.
        title: Option<String>,
    },
    /// Anything else, decoded lossily and cut to [`MAX_TEXT_BYTES`].
    Text(Cow<'a, str>),
}

impl<'a> Body<'a> {
    /// Parses a raw body. Never fails: what cannot be read as JSON or HTML is text.
    pub(crate) fn parse(raw: &'a [u8]) -> Body<'a> {
        let raw = trim_ascii(strip_bom(raw));
        if raw.is_empty() {
            return Body::Empty;
        }
        if matches!(raw[0], b'{' | b'[') && raw.len() <= MAX_JSON_BYTES {
            if let Ok(value) = serde_json::from_slice::<Value>(raw) {
                return Body::Json(value);
            }
        }
        let head = &raw[..raw.len().min(MAX_TEXT_BYTES)];
        if looks_like_html(head) {
            return Body::Html {
                title: html_title(head),
            };
        }
        Body::Text(decode_prefix(head))
    }

    /// The JSON document, if the body is one.
    pub(crate) fn json(&self) -> Option<&Value> {
        match self {
            Body::Json(v) => Some(v),
            _ => None,
        }
    }

    /// Free text to scan for keywords: the text itself, or an HTML page's title.
    pub(crate) fn text(&self) -> Option<&str> {
        match self {
            Body::Text(t) => Some(t),
            Body::Html { title } => title.as_deref(),
            _ => None,
        }
    }

    /// JSON text that did not parse (cut off by a read cap, or malformed), if that is what
    /// the body is.
    pub(crate) fn broken_json(&self) -> Option<&str> {
        match self {
            Body::Text(t) if t.starts_with(['{', '[']) => Some(t),
            _ => None,
        }
    }

    /// A non-empty string (or number, as text) at `path` of a JSON body. In JSON that did
    /// not parse, the first complete value written after the path's last key is salvaged
    /// instead, so a provider reader works on a body cut short as on a whole one. A value
    /// cut off by the end of the text is not returned: half a code or field name misleads.
    pub(crate) fn str_at(&self, path: &[&str]) -> Option<String> {
        self.lookup(path, false)
    }

    /// Like [`Body::str_at`], for the provider's message: a message cut off by the end of
    /// the text is still worth showing, so it is returned as far as it goes.
    pub(crate) fn message_at(&self, path: &[&str]) -> Option<String> {
        self.lookup(path, true)
    }

    fn lookup(&self, path: &[&str], cut_is_fine: bool) -> Option<String> {
        match self {
            Body::Json(json) => text_at(json, path),
            _ => {
                let text = self.broken_json()?;
                let key = path.iter().rev().find(|k| k.parse::<usize>().is_err())?;
                let (value, complete) = value_after_key(text, key)?;
                (complete || cut_is_fine).then_some(value)
            }
        }
    }
}

/// The string or number value after the first `"key":` in raw JSON text, up to its closing
/// quote or the end of the text, and whether it was complete (closed before the end).
/// A list gives its first element; other values are skipped.
pub(crate) fn value_after_key(text: &str, key: &str) -> Option<(String, bool)> {
    let mut from = 0;
    while let Some(pos) = text[from..].find(key) {
        let start = from + pos;
        let after = start + key.len();
        from = after;
        let quoted = text[..start].ends_with('"') && text[after..].starts_with('"');
        if !quoted {
            continue;
        }
        let Some(rest) = text[after + 1..].trim_start().strip_prefix(':') else {
            continue;
        };
        // A list stands for its first element: `"fields": ["LastName", ...]`.
        let rest = rest.trim_start();
        let rest = rest.strip_prefix('[').map_or(rest, str::trim_start);
        if let Some(value) = rest.strip_prefix('"') {
            let (v, complete) = unescape_until_quote(value);
            let v = v.trim();
            return (!v.is_empty()).then(|| (v.to_owned(), complete));
        }
        let number: String = rest
            .chars()
            .take_while(|c| c.is_ascii_digit() || matches!(c, '-' | '.'))
            .collect();
        if !number.is_empty() {
            let complete = rest.len() > number.len();
            return Some((number, complete));
        }
    }
    None
}

/// The characters of a JSON string up to its closing quote, with escapes decoded (line
/// breaks and tabs become spaces, as they would in a one-line message), and whether the
/// closing quote was reached.
fn unescape_until_quote(value: &str) -> (String, bool) {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => return (out, true),
            '\\' => match chars.next() {
                Some('n' | 'r' | 't') => out.push(' '),
                Some('u') => {
                    let hex: String = chars.by_ref().take(4).collect();
                    if let Some(decoded) =
                        u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32)
                    {
                        out.push(decoded);
                    }
                }
                Some(other) => out.push(other),
                None => break,
            },
            c => out.push(c),
        }
    }
    (out, false)
}

fn strip_bom(raw: &[u8]) -> &[u8] {
    raw.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(raw)
}

fn trim_ascii(raw: &[u8]) -> &[u8] {
    let start = raw
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(raw.len());
    let end = raw
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |i| i + 1);
    &raw[start..end]
}

/// Decodes bytes as UTF-8, replacing what is not; a multi-byte character cut at the end
/// of the window becomes one replacement character rather than an error.
fn decode_prefix(head: &[u8]) -> Cow<'_, str> {
    String::from_utf8_lossy(head)
}

fn looks_like_html(head: &[u8]) -> bool {
    if head.first() != Some(&b'<') {
        return false;
    }
    let probe = &head[..head.len().min(512)];
    let lower: Vec<u8> = probe.iter().map(u8::to_ascii_lowercase).collect();
    [
        &b"<!doctype html"[..],
        b"<?xml",
        b"<html",
        b"<head",
        b"<body",
        b"<title",
        b"<h1",
        b"<center",
    ]
    .iter()
    .any(|tag| lower.windows(tag.len()).any(|w| w == *tag))
}

fn html_title(head: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(head);
    let lower = text.to_ascii_lowercase();
    for (open, close) in [
        ("<title", "</title>"),
        ("<h1", "</h1>"),
        ("<message", "</message>"),
        ("<faultstring", "</faultstring>"),
        ("<error", "</error"),
        ("<detail", "</detail>"),
    ] {
        let Some(start) = lower.find(open) else {
            continue;
        };
        let Some(gt) = lower[start..].find('>') else {
            continue;
        };
        let inner_start = start + gt + 1;
        let inner_end = lower[inner_start..]
            .find(close)
            .map_or(lower.len(), |e| inner_start + e);
        let inner = strip_tags(&text[inner_start..inner_end]);
        if !inner.is_empty() {
            return Some(inner);
        }
    }
    None
}

/// Removes tags and collapses whitespace: `<b>502</b>  Bad\nGateway` → `502 Bad Gateway`.
fn strip_tags(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut in_tag = false;
    for c in s.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Follows a path of object keys and array indexes: `at(v, &["errors", "0", "code"])`.
pub(crate) fn at<'v>(value: &'v Value, path: &[&str]) -> Option<&'v Value> {
    let mut cur = value;
    for key in path {
        cur = match cur {
            Value::Object(map) => map.get(*key)?,
            Value::Array(items) => items.get(key.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(cur)
}

/// A non-empty string (or number, written as text) at `path`.
pub(crate) fn text_at(value: &Value, path: &[&str]) -> Option<String> {
    match at(value, path)? {
        Value::String(s) => {
            let s = s.trim();
            (!s.is_empty()).then(|| s.to_owned())
        }
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The first element of an array at `path` (or the value itself when it is an object).
pub(crate) fn first_at<'v>(value: &'v Value, path: &[&str]) -> Option<&'v Value> {
    match at(value, path)? {
        Value::Array(items) => items.first(),
        v @ Value::Object(_) => Some(v),
        _ => None,
    }
}

/// Case-insensitive ASCII substring search, without allocating.
pub(crate) fn contains_ci(haystack: &str, needle: &str) -> bool {
    let (h, n) = (haystack.as_bytes(), needle.as_bytes());
    n.is_empty() || h.windows(n.len()).any(|w| w.eq_ignore_ascii_case(n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_bodies_parse_and_whitespace_is_ignored() {
        let body = Body::parse(b" \n{\"a\": [1, {\"b\": \"x\"}]}\n");
        let json = body.json().expect("json");
        assert_eq!(text_at(json, &["a", "1", "b"]).as_deref(), Some("x"));
        assert_eq!(text_at(json, &["a", "0"]).as_deref(), Some("1"));
        assert!(text_at(json, &["a", "9"]).is_none());
    }

    #[test]
    fn truncated_json_becomes_text() {
        let body = Body::parse(b"{\"title\":\"Member Ex");
        assert_eq!(body.text(), Some("{\"title\":\"Member Ex"));
    }

    #[test]
    fn html_pages_yield_their_title() {
        let page = b"<html><head><title>502 Bad   Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center></body></html>";
        assert_eq!(Body::parse(page).text(), Some("502 Bad Gateway"));
        let no_title = b"<!DOCTYPE html><body><h1>Service <b>Unavailable</b></h1></body>";
        assert_eq!(Body::parse(no_title).text(), Some("Service Unavailable"));
    }

    #[test]
    fn xml_answers_yield_their_message_not_their_markup() {
        let xml = br#"<?xml version="1.0" encoding="utf-8"?><Result><Code>1</Code><Message>Please provide a valid email address.</Message></Result>"#;
        assert_eq!(
            Body::parse(xml).text(),
            Some("Please provide a valid email address.")
        );
    }

    #[test]
    fn salvaged_strings_have_their_escapes_decoded() {
        let cut = Body::parse(br#"{"message":"say \"hi\"\nto Ren\u00e9 \\ now","code":"x"#);
        assert_eq!(
            cut.message_at(&["message"]).as_deref(),
            Some(r#"say "hi" to René \ now"#)
        );
    }

    #[test]
    fn binary_and_bad_charset_bodies_are_decoded_lossily() {
        let body = Body::parse(&[0xff, 0xfe, b'o', b'k', 0xc3]);
        assert_eq!(body.text(), Some("\u{fffd}\u{fffd}ok\u{fffd}"));
    }

    #[test]
    fn huge_bodies_are_cut_to_a_window() {
        let raw = vec![b'x'; MAX_TEXT_BYTES * 3];
        assert_eq!(Body::parse(&raw).text().map(str::len), Some(MAX_TEXT_BYTES));
    }

    #[test]
    fn empty_and_bom_only_bodies_are_empty() {
        assert!(matches!(Body::parse(b""), Body::Empty));
        assert!(matches!(Body::parse(b"\xEF\xBB\xBF  \r\n"), Body::Empty));
    }

    #[test]
    fn str_at_reads_whole_json_and_salvages_json_cut_short() {
        let whole = Body::parse(br#"{"errors":[{"code":"invalid","status":400}]}"#);
        assert_eq!(
            whole.str_at(&["errors", "0", "code"]).as_deref(),
            Some("invalid")
        );
        let cut = Body::parse(br#"{"errors":[{"status":400,"code":"invalid","detail":"Invalid em"#);
        assert_eq!(
            cut.str_at(&["errors", "0", "code"]).as_deref(),
            Some("invalid")
        );
        assert_eq!(
            cut.str_at(&["errors", "0", "status"]).as_deref(),
            Some("400")
        );
        assert_eq!(cut.str_at(&["errors", "0", "detail"]), None);
        assert_eq!(
            cut.message_at(&["errors", "0", "detail"]).as_deref(),
            Some("Invalid em")
        );
        let list = Body::parse(br#"[{"fields":[ "LastName","Company"],"errorCode":"REQ"#);
        assert_eq!(
            list.str_at(&["0", "fields", "0"]).as_deref(),
            Some("LastName")
        );
        assert_eq!(Body::parse(b"plain words").str_at(&["code"]), None);
    }

    #[test]
    fn salvage_skips_keys_that_are_only_part_of_a_longer_key_or_escaped() {
        let text = r#"{"errorCode":"X","message":"[{\"error\":\"NESTED\"}]","error":"top"}"#;
        assert_eq!(
            value_after_key(text, "error"),
            Some(("top".to_owned(), true))
        );
    }

    #[test]
    fn case_insensitive_search_finds_mixed_case() {
        assert!(contains_ci("Rate LIMIT exceeded", "rate limit"));
        assert!(!contains_ci("rate", "rate limit"));
    }
}

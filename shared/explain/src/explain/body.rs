//! Reading a response body of any shape: JSON, HTML, XML, plain text, binary, huge or cut
//! short, in UTF-8 or in the charset its `Content-Type` (or its byte order mark, or an XML
//! or HTML declaration) names.
//!
//! The common case, UTF-8 JSON, is parsed straight from the bytes without a copy; only a
//! body in another charset is decoded first. A body that declares no charset and is not
//! UTF-8 is read as Windows-1252 (the superset of Latin-1 that servers mean when they say
//! nothing), so a message never carries a replacement character (U+FFFD) for a byte that
//! was only in another charset.

use encoding_rs::{Encoding, UTF_16BE, UTF_16LE, UTF_8, WINDOWS_1252};
use serde_json::Value;
use std::borrow::Cow;

/// Bodies larger than this are not parsed as JSON; their opening is scanned as text.
/// Provider error bodies are a few hundred bytes; a megabyte of JSON is not an error report.
pub(crate) const MAX_JSON_BYTES: usize = 1 << 20;

/// How much of a non-JSON body is kept for scanning.
pub(crate) const MAX_TEXT_BYTES: usize = 4096;

/// The byte order mark of UTF-8, and the character it decodes to.
const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";
const BOM_CHAR: char = '\u{FEFF}';

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
        /// The opening of the page (up to [`MAX_TEXT_BYTES`]), decoded, markup and all:
        /// what tells a security check, a sign-in form or an XML error apart.
        markup: Cow<'a, str>,
        /// The same, ASCII lower-cased once for every reader that searches it (byte
        /// offsets are those of `markup`).
        lower: String,
    },
    /// Anything else, decoded and cut to [`MAX_TEXT_BYTES`].
    Text(Cow<'a, str>),
}

impl<'a> Body<'a> {
    /// Parses a raw body whose charset is not known. Never fails: what cannot be read as
    /// JSON or HTML is text.
    #[cfg(test)]
    pub(crate) fn parse(raw: &'a [u8]) -> Body<'a> {
        Body::parse_typed(raw, None)
    }

    /// Parses a raw body in the charset named by `content_type` (the `Content-Type`
    /// header's value), a byte order mark, or the body's own XML or HTML declaration;
    /// without any, as UTF-8, falling back to Windows-1252 when it is not UTF-8.
    pub(crate) fn parse_typed(raw: &'a [u8], content_type: Option<&str>) -> Body<'a> {
        // A UTF-16 body announces itself with its byte order mark, before anything else.
        if let Some(encoding) = utf16_bom(raw) {
            return Body::from_decoded(decode_window(encoding, &raw[2..]));
        }
        let raw = strip_bom_and_space(raw);
        if raw.is_empty() {
            return Body::Empty;
        }
        let declared = content_type
            .and_then(charset_of)
            .and_then(Encoding::for_label_no_replacement);
        match declared {
            // ASCII is the same in every charset a server uses for its errors, so an ASCII
            // body in a declared single-byte or Shift-JIS charset needs no decoding.
            Some(encoding)
                if encoding != UTF_8
                    && !(encoding.is_ascii_compatible() && raw.is_ascii())
                    && !(encoding.is_single_byte() && std::str::from_utf8(raw).is_ok()) =>
            {
                Body::from_decoded(decode_window(encoding, raw))
            }
            // A body labelled Latin-1 (a server's default) that is valid UTF-8 is UTF-8:
            // text really in a single-byte charset almost never forms valid UTF-8, and
            // reading UTF-8 as Latin-1 would turn "é" into "Ã©".
            _ => Body::from_utf8ish(raw),
        }
    }

    /// The common path: bytes that should be UTF-8. JSON is parsed in place; anything
    /// that turns out not to be UTF-8 is read as Windows-1252 (or the charset its markup
    /// declares) instead.
    fn from_utf8ish(raw: &'a [u8]) -> Body<'a> {
        if matches!(raw[0], b'{' | b'[') && raw.len() <= MAX_JSON_BYTES {
            if let Ok(value) = serde_json::from_slice::<Value>(raw) {
                return Body::Json(value);
            }
            // JSON that failed only because it is in another charset: decode and retry.
            if std::str::from_utf8(raw).is_err_and(|e| e.error_len().is_some()) {
                return Body::from_decoded(decode_window(WINDOWS_1252, raw));
            }
        }
        let head = &raw[..raw.len().min(MAX_TEXT_BYTES)];
        let text = match std::str::from_utf8(head) {
            Ok(text) => Cow::Borrowed(text),
            // Cut inside a character, by the window or by a read cap (JSON that does not
            // parse was cut short): keep the whole characters. Plain text that merely ends
            // in a non-UTF-8 byte ("validée" in Latin-1) is read in its own charset below.
            Err(e)
                if e.error_len().is_none()
                    && (head.len() < raw.len() || matches!(raw[0], b'{' | b'[')) =>
            {
                Cow::Borrowed(std::str::from_utf8(&head[..e.valid_up_to()]).unwrap_or_default())
            }
            Err(_) => {
                let encoding = markup_charset(head)
                    .filter(|e| *e != UTF_8)
                    .unwrap_or(WINDOWS_1252);
                return Body::from_decoded(decode_window(encoding, head));
            }
        };
        Body::from_text(text)
    }

    /// A body already decoded into text of its own.
    fn from_decoded(text: String) -> Body<'a> {
        let trimmed = text.trim_matches(|c: char| c.is_whitespace() || c == BOM_CHAR);
        if trimmed.is_empty() {
            return Body::Empty;
        }
        if trimmed.starts_with(['{', '[']) {
            if let Ok(value) = serde_json::from_str::<Value>(trimmed) {
                return Body::Json(value);
            }
        }
        let mut end = trimmed.len().min(MAX_TEXT_BYTES);
        while !trimmed.is_char_boundary(end) {
            end -= 1;
        }
        let head = if trimmed.len() == text.len() && end == text.len() {
            text
        } else {
            trimmed[..end].to_owned()
        };
        Body::from_text(Cow::Owned(head))
    }

    /// Text (already cut to the window): an HTML or XML page, or plain text.
    fn from_text(text: Cow<'a, str>) -> Body<'a> {
        if looks_like_html(text.as_bytes()) {
            let lower = text.to_ascii_lowercase();
            return Body::Html {
                title: html_title(&text, &lower),
                markup: text,
                lower,
            };
        }
        Body::Text(text)
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
            Body::Html { title, .. } => title.as_deref(),
            _ => None,
        }
    }

    /// An HTML or XML page's opening, markup and all, ASCII lower-cased, if the body is
    /// one.
    pub(crate) fn markup_lower(&self) -> Option<&str> {
        match self {
            Body::Html { lower, .. } => Some(lower),
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

/// The body without the whitespace and UTF-8 byte order marks around it, in any order
/// (`BOM {`, ` BOM {`, `BOM  {`): some servers write a BOM after a blank line.
fn strip_bom_and_space(mut raw: &[u8]) -> &[u8] {
    loop {
        let trimmed = trim_ascii(raw);
        match trimmed.strip_prefix(UTF8_BOM) {
            Some(rest) => raw = rest,
            None => return trimmed,
        }
    }
}

/// UTF-16, when the body opens with its byte order mark.
fn utf16_bom(raw: &[u8]) -> Option<&'static Encoding> {
    match raw {
        [0xFF, 0xFE, ..] => Some(UTF_16LE),
        [0xFE, 0xFF, ..] => Some(UTF_16BE),
        _ => None,
    }
}

/// The `charset` parameter of a `Content-Type` value, unquoted:
/// `text/html; charset="ISO-8859-1"` → `ISO-8859-1`.
pub(crate) fn charset_of(content_type: &str) -> Option<&[u8]> {
    content_type.split(';').skip(1).find_map(|param| {
        let (name, value) = param.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("charset")
            .then(|| value.trim().trim_matches(['"', '\'']).as_bytes())
            .filter(|v| !v.is_empty())
    })
}

/// The charset an XML declaration (`<?xml ... encoding="Shift_JIS"?>`) or an HTML meta
/// tag (`<meta charset="iso-8859-1">`, `content="text/html; charset=iso-8859-1"`) names
/// in the opening of a page.
fn markup_charset(head: &[u8]) -> Option<&'static Encoding> {
    if head.first() != Some(&b'<') {
        return None;
    }
    let probe = &head[..head.len().min(1024)];
    for key in [&b"charset="[..], b"encoding="] {
        let Some(at) = probe
            .windows(key.len())
            .position(|w| w.eq_ignore_ascii_case(key))
        else {
            continue;
        };
        let rest = &probe[at + key.len()..];
        let rest = rest
            .strip_prefix(b"\"")
            .or_else(|| rest.strip_prefix(b"'"))
            .unwrap_or(rest);
        let end = rest
            .iter()
            .position(|b| !(b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b':' | b'.')))
            .unwrap_or(rest.len());
        if let Some(encoding) = Encoding::for_label_no_replacement(&rest[..end]) {
            return Some(encoding);
        }
    }
    None
}

/// Decodes at most [`MAX_JSON_BYTES`] of `raw` from `encoding`. A character cut off at
/// the end is dropped, and no U+FFFD is left for bytes the charset does not define: a
/// message shows the characters that were there, never a replacement sign.
fn decode_window(encoding: &'static Encoding, raw: &[u8]) -> String {
    let window = &raw[..raw.len().min(MAX_JSON_BYTES)];
    let mut decoder = encoding.new_decoder_without_bom_handling();
    let capacity = decoder
        .max_utf8_buffer_length(window.len())
        .unwrap_or(window.len() * 3);
    let mut out = vec![0; capacity];
    // `last: false` so a character cut by the window or a read cap is left out rather
    // than replaced.
    let (_, _, written, _) = decoder.decode_to_utf8(window, &mut out, false);
    out.truncate(written);
    without_replacement(String::from_utf8(out).unwrap_or_default())
}

/// Drops replacement characters (U+FFFD): they stand for bytes that were lost before the
/// text reached the engine, and show as a black diamond in a message.
pub(crate) fn without_replacement(text: String) -> String {
    if text.contains('\u{FFFD}') {
        text.replace('\u{FFFD}', "")
    } else {
        text
    }
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
        // A SOAP envelope without an XML declaration: `<soap:Envelope`, `<env:Envelope`.
        b":envelope",
    ]
    .iter()
    .any(|tag| lower.windows(tag.len()).any(|w| w == *tag))
}

fn html_title(text: &str, lower: &str) -> Option<String> {
    for (open, close) in [
        ("<title", "</title>"),
        ("<h1", "</h1>"),
        ("<message", "</message>"),
        ("<result_message", "</result_message>"),
        ("<faultstring", "</faultstring>"),
        // SOAP 1.2: `<env:Reason><env:Text>...</env:Text></env:Reason>`, any prefix.
        (":reason", ":reason>"),
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
    fn binary_and_bad_charset_bodies_are_decoded_without_replacement_characters() {
        let body = Body::parse(&[b'o', b'k', 0xff, b' ', 0xc3, 0x28, 0x81]);
        assert_eq!(body.text(), Some("ok\u{ff} \u{c3}(\u{81}"));
        let png = Body::parse(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR");
        assert!(!png.text().unwrap_or_default().contains('\u{fffd}'));
    }

    #[test]
    fn a_declared_charset_decodes_the_body_before_reading() {
        // "Adresse e-mail invalide : caractère non autorisé" in ISO-8859-1.
        let latin1 = b"{\"message\":\"caract\xe8re non autoris\xe9\"}";
        for ct in [
            "application/json; charset=ISO-8859-1",
            "application/json;charset=\"latin1\"",
            "application/json; charset=windows-1252",
        ] {
            let body = Body::parse_typed(latin1, Some(ct));
            assert_eq!(
                body.str_at(&["message"]).as_deref(),
                Some("caractère non autorisé"),
                "{ct}"
            );
        }
        // 「メールアドレスが無効です」 in Shift-JIS.
        let sjis = b"\x83\x81\x81\x5b\x83\x8b\x83\x41\x83\x68\x83\x8c\x83\x58\x82\xaa\x96\xb3\x8c\xf8\x82\xc5\x82\xb7";
        let body = Body::parse_typed(sjis, Some("text/plain; charset=Shift_JIS"));
        assert_eq!(body.text(), Some("メールアドレスが無効です"));
    }

    #[test]
    fn undeclared_non_utf8_is_read_as_windows_1252() {
        let body = Body::parse_typed(
            b"{\"detail\":\"Ung\xfcltige E-Mail \x96 bitte pr\xfcfen\"}",
            None,
        );
        assert_eq!(
            body.str_at(&["detail"]).as_deref(),
            Some("Ungültige E-Mail – bitte prüfen")
        );
        let body = Body::parse_typed(b"Adresse non valid\xe9e", Some("text/plain"));
        assert_eq!(body.text(), Some("Adresse non validée"));
    }

    #[test]
    fn a_latin1_label_on_a_utf8_body_does_not_make_mojibake() {
        let body = Body::parse_typed(
            "{\"message\":\"Adresse refusée\"}".as_bytes(),
            Some("application/json; charset=ISO-8859-1"),
        );
        assert_eq!(
            body.str_at(&["message"]).as_deref(),
            Some("Adresse refusée")
        );
    }

    #[test]
    fn a_lying_utf8_label_falls_back_to_windows_1252() {
        let body = Body::parse_typed(
            b"Erreur : adresse refus\xe9e",
            Some("text/plain; charset=utf-8"),
        );
        assert_eq!(body.text(), Some("Erreur : adresse refusée"));
    }

    #[test]
    fn markup_names_its_own_charset() {
        let xml = b"<?xml version=\"1.0\" encoding=\"Shift_JIS\"?><Result><Message>\x96\xb3\x8c\xf8</Message></Result>";
        assert_eq!(Body::parse_typed(xml, None).text(), Some("無効"));
        let html = b"<html><head><meta charset=\"iso-8859-1\"><title>Acc\xe8s refus\xe9</title></head></html>";
        assert_eq!(Body::parse_typed(html, None).text(), Some("Accès refusé"));
    }

    #[test]
    fn utf16_with_a_bom_is_decoded() {
        let text = "{\"error\":\"Ungültig\"}";
        let mut le = vec![0xFF, 0xFE];
        le.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
        let mut be = vec![0xFE, 0xFF];
        be.extend(text.encode_utf16().flat_map(u16::to_be_bytes));
        for raw in [le, be] {
            assert_eq!(
                Body::parse_typed(&raw, None).str_at(&["error"]).as_deref(),
                Some("Ungültig")
            );
        }
    }

    #[test]
    fn a_bom_before_json_is_stripped_wherever_the_whitespace_is() {
        for raw in [
            &b"\xEF\xBB\xBF{\"a\":1}"[..],
            b"\r\n\xEF\xBB\xBF{\"a\":1}",
            b"\xEF\xBB\xBF \n {\"a\":1}",
            b" \xEF\xBB\xBF\xEF\xBB\xBF {\"a\":1} ",
        ] {
            assert!(Body::parse(raw).json().is_some(), "{raw:?}");
        }
        // A BOM inside a declared-charset body decodes to U+FEFF, which is stripped too.
        let body = Body::parse_typed(
            b"\xEF\xBB\xBF{\"a\":\"\xe9\"}",
            Some("application/json; charset=iso-8859-1"),
        );
        assert!(body.json().is_some());
    }

    #[test]
    fn utf8_cut_inside_a_character_keeps_the_whole_ones() {
        // "café" cut after the first byte of "é", in JSON cut short by a read cap.
        let body = Body::parse(b"{\"message\":\"caf\xc3");
        assert_eq!(body.message_at(&["message"]).as_deref(), Some("caf"));
        let mut long = vec![b'a'; MAX_TEXT_BYTES - 1];
        long.extend("é and more".as_bytes());
        assert_eq!(
            Body::parse(&long).text().map(str::len),
            Some(MAX_TEXT_BYTES - 1)
        );
    }

    #[test]
    fn utf8_json_is_parsed_without_a_copy_and_ascii_needs_no_decoding() {
        // An ASCII body under a single-byte charset is read as it is.
        let body = Body::parse_typed(b"plain words", Some("text/plain; charset=iso-8859-1"));
        assert!(matches!(body, Body::Text(Cow::Borrowed(_))));
        let body = Body::parse_typed("tr\u{e8}s".as_bytes(), Some("text/plain; charset=utf-8"));
        assert!(matches!(body, Body::Text(Cow::Borrowed("très"))));
    }

    #[test]
    fn charset_parameters_are_read_leniently() {
        assert_eq!(charset_of("text/html; charset=UTF-8"), Some(&b"UTF-8"[..]));
        assert_eq!(
            charset_of("text/html;CHARSET='sjis' ; q=1"),
            Some(&b"sjis"[..])
        );
        assert_eq!(charset_of("application/json"), None);
        assert_eq!(charset_of("text/plain; charset="), None);
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

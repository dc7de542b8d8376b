//! Reading answers from webhooks and unknown APIs, and filling what a provider module left
//! open: the common error shapes (`{errors:[...]}`, `{error:{...}}`, problem+json, arrays,
//! plain text, HTML pages and XML documents), in the priority order of
//! `reference/providers.md`.

use super::body::{at, first_at, text_at, value_after_key, Body};
use super::extracted::Extracted;
use crate::catalogue::Cause;
use crate::verdict::Outcome;
use serde_json::Value;

/// The first `Some` of several lookups, evaluated lazily in order.
macro_rules! first_some {
    ($first:expr $(, $rest:expr)* $(,)?) => {
        $first$(.or_else(|| $rest))*
    };
    (where $keep:expr; $first:expr $(, $rest:expr)* $(,)?) => {
        $first.filter($keep)$(.or_else(|| $rest.filter($keep)))*
    };
}

/// Longest message kept from a plain-text body.
const MAX_TEXT_MESSAGE: usize = 300;

/// Reads the common shapes for what a provider reader left open in `known`: nothing is
/// looked up that `known` already has. The outcome is left to [`decide_by_keywords`],
/// which reads the merged result.
pub(crate) fn extract(status: u16, body: &Body<'_>, known: &Extracted) -> Extracted {
    let mut found = match body {
        Body::Json(json) => from_json(status, json, known),
        Body::Html { title } => Extracted {
            message: title.clone(),
            ..Extracted::default()
        },
        Body::Text(text) if text.starts_with(['{', '[']) => salvage(status, text),
        Body::Text(text) => Extracted {
            message: text_message(text),
            ..Extracted::default()
        },
        Body::Empty => Extracted::default(),
    };
    if found.field.is_none() && known.field.is_none() {
        found.field = known
            .message
            .as_deref()
            .or(found.message.as_deref())
            .and_then(quoted_field);
    }
    found
}

/// Decides the outcome from the words of the code and message, where neither a provider
/// reader nor the body's structure did and the status alone cannot.
pub(crate) fn decide_by_keywords(status: u16, found: &mut Extracted) {
    if found.outcome.is_some() {
        return;
    }
    let (outcome, cause) = keyword_outcome(status, found.code.as_deref(), found.message.as_deref());
    found.outcome = outcome;
    found.cause = found.cause.or(cause);
    let message = found.message.as_deref().unwrap_or_default();
    match found.cause {
        Some(Cause::NotAnOption) if found.allowed.is_empty() => {
            found.allowed = super::field::option_list(message);
        }
        Some(Cause::InvalidFormat) if found.format.is_none() => {
            found.format = super::field::format_in(message);
        }
        Some(Cause::UnknownField) => {
            if found.field.is_none() {
                found.field = named_field(message);
            }
            if found.allowed.is_empty() {
                found.allowed = super::field::option_list(message);
            }
        }
        _ => {}
    }
}

/// The field a sentence names in quotes after the word "field" or "property":
/// `Unknown field 'emial'` → `emial`.
fn named_field(message: &str) -> Option<String> {
    let lower = message.to_ascii_lowercase();
    let at = ["field ", "property ", "attribute "]
        .iter()
        .find_map(|w| lower.find(w).map(|i| i + w.len()))?;
    let rest = message.get(at..)?;
    let quote = rest
        .chars()
        .next()
        .filter(|c| matches!(c, '\'' | '"' | '`'))?;
    let name = rest[1..].split(quote).next()?;
    (!name.is_empty() && !name.contains(' ')).then(|| name.to_owned())
}

/// Reads what it can from JSON that did not parse (cut off by a read cap, or malformed):
/// the first value of each well-known key. Raw JSON is never shown as a message.
fn salvage(status: u16, text: &str) -> Extracted {
    let first = |keys: &[&str], cut_is_fine: bool| {
        keys.iter()
            .filter_map(|k| value_after_key(text, k))
            .find_map(|(v, complete)| (complete || cut_is_fine).then_some(v))
    };
    let status_text = status.to_string();
    Extracted {
        code: first(&["code", "errorCode", "errorType", "error_code"], false)
            .filter(|c| is_identifier(c) && *c != status_text && !is_request_id(c)),
        message: first(
            &[
                "detail",
                "message",
                "ErrorMessage",
                "Message",
                "error_description",
            ],
            true,
        ),
        field: first(&["field", "pointer", "param"], false),
        ..Extracted::default()
    }
}

fn text_message(text: &str) -> Option<String> {
    let line = text.lines().map(str::trim).find(|l| !l.is_empty())?;
    Some(line.chars().take(MAX_TEXT_MESSAGE).collect())
}

/// Does this string look like a per-request id (a UUID, or a long run of hex digits)
/// rather than an error code? Such ids change with every request and explain nothing.
pub(crate) fn is_request_id(s: &str) -> bool {
    let hex_digits = s.chars().filter(char::is_ascii_hexdigit).count();
    let only_hex_and_dashes = s.chars().all(|c| c.is_ascii_hexdigit() || c == '-');
    only_hex_and_dashes && hex_digits >= 24 && s.chars().any(|c| c.is_ascii_digit())
}

/// Does this string read like a machine identifier (`invalid_grant`, `RATE_LIMIT`,
/// `duplicateProfile`, `E1002`) rather than words for a person?
pub(crate) fn is_identifier(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 80
        && !s.contains(char::is_whitespace)
        && !s.contains("://")
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':'))
}

fn from_json(status: u16, json: &Value, known: &Extracted) -> Extracted {
    // Salesforce-style arrays: the first element carries the error.
    let root = match json {
        Value::Array(items) => items.first().unwrap_or(json),
        _ => json,
    };
    let first_error = first_at(root, &["errors"]);
    let error_obj = at(root, &["error"]).filter(|v| v.is_object());
    let problem = at(root, &["title"]).is_some() && at(root, &["type"]).is_some();

    let status_text = status.to_string();
    let not_status = |c: &String| c != &status_text && !is_request_id(c);
    let need_code = known.code.is_none() && !known.no_code;
    let code = need_code
        .then(|| {
            first_some![where not_status;
                first_error.and_then(|e| text_at(e, &["code"])),
                text_at(root, &["errorCode"]),
                text_at(root, &["code"]),
                error_obj.and_then(|e| text_at(e, &["code"])),
                text_at(root, &["errorType"]),
                first_error.and_then(|e| text_at(e, &["errorType"])),
                text_at(root, &["category"]),
                problem.then(|| text_at(root, &["title"])).flatten(),
                text_at(root, &["Code"]),
                text_at(root, &["ErrorIdentifier"]),
                text_at(root, &["type"]).filter(|t| is_identifier(t)),
                text_at(root, &["error"]).filter(|t| is_identifier(t)),
            ]
        })
        .flatten();

    let message = known
        .message
        .is_none()
        .then(|| {
            first_some![
                text_at(root, &["detail"]),
                first_error.and_then(|e| text_at(e, &["detail"])),
                text_at(root, &["message"]),
                first_error.and_then(|e| text_at(e, &["message"])),
                error_obj.and_then(|e| text_at(e, &["message"])),
                text_at(root, &["ErrorMessage"]),
                text_at(root, &["Message"]),
                text_at(root, &["error_description"]),
                text_at(root, &["title"]),
                text_at(root, &["error"]).filter(|t| !is_identifier(t)),
                first_error.and_then(|e| e.as_str().map(str::to_owned)),
            ]
        })
        .flatten();

    let field = known
        .field
        .is_none()
        .then(|| {
            first_some![
                first_error.and_then(|e| text_at(e, &["field"])),
                first_error.and_then(|e| text_at(e, &["source", "pointer"])),
                first_error.and_then(|e| text_at(e, &["param"])),
                first_error.and_then(|e| text_at(e, &["path"])),
                text_at(root, &["fields", "0"]),
                text_at(root, &["field"]),
                text_at(root, &["param"]),
                error_obj.and_then(|e| text_at(e, &["field"])),
                first_error
                    .and_then(|e| text_at(e, &["message"]))
                    .as_deref()
                    .and_then(quoted_field),
            ]
        })
        .flatten();

    let outcome = (known.outcome.is_none() && (200..300).contains(&status))
        .then(|| success_body_failure(root))
        .flatten();
    Extracted {
        code,
        message,
        field,
        outcome,
        cause: outcome.map(|_| Cause::FailedDespiteSuccessStatus),
        ..Extracted::default()
    }
}

/// A 2xx body that clearly says the data was not taken: `"success": false`,
/// `"ok": false`, `"status": "error"`, or a non-empty `errors` list.
fn success_body_failure(root: &Value) -> Option<Outcome> {
    let flag_false = |k: &str| at(root, &[k]).and_then(Value::as_bool) == Some(false);
    let status_error = text_at(root, &["status"])
        .is_some_and(|s| s.eq_ignore_ascii_case("error") || s.eq_ignore_ascii_case("failed"));
    let has_errors = at(root, &["errors"])
        .and_then(Value::as_array)
        .is_some_and(|a| !a.is_empty());
    (flag_false("success") || flag_false("ok") || status_error || has_errors)
        .then_some(Outcome::Unexpected)
}

/// `Error in 'fields.email'. Invalid email address` → `fields.email`.
fn quoted_field(message: &str) -> Option<String> {
    let start = message.find("'fields.")? + 1;
    let end = message[start..].find('\'')? + start;
    Some(message[start..end].to_owned())
}

/// How much of a message the keyword search reads: the words that decide an outcome come
/// first, and a megabyte of message need not be lower-cased for them.
const KEYWORD_WINDOW: usize = 4096;

/// The code and the opening of the message, lower-cased, on separate lines so no word is
/// found across the two.
fn lowercase_head(code: Option<&str>, message: Option<&str>) -> String {
    let mut hay = String::new();
    for part in [code, message].into_iter().flatten() {
        let mut end = part.len().min(KEYWORD_WINDOW);
        while !part.is_char_boundary(end) {
            end -= 1;
        }
        hay.push_str(&part[..end]);
        hay.push('\n');
    }
    hay.make_ascii_lowercase();
    hay
}

/// Words that decide the outcome where the status alone cannot: a 400 that is really a
/// duplicate, a 403 that is really a rate limit, a 500 hiding a duplicate.
fn keyword_outcome(
    status: u16,
    code: Option<&str>,
    message: Option<&str>,
) -> (Option<Outcome>, Option<Cause>) {
    let ambiguous = matches!(status, 400 | 403 | 409 | 422 | 500) || (200..300).contains(&status);
    if !ambiguous || (code.is_none() && message.is_none()) {
        return (None, None);
    }
    // Lower-cased once, so the thirty-odd words below are plain substring searches rather
    // than case-insensitive scans of the message each.
    let hay = lowercase_head(code, message);
    let has = |w: &str| hay.contains(w);
    if has("rate limit")
        || has("ratelimit")
        || has("rate_limit")
        || has("too many requests")
        || has("throttl")
        || has("limit exceeded")
    {
        return (Some(Outcome::RateLimited), Some(Cause::RateLimited));
    }
    if status == 403 {
        return (None, None);
    }
    if has("already exist")
        || has("already a member")
        || has("already a list member")
        || has("duplicate")
        || has("already subscribed")
    {
        return (Some(Outcome::Duplicate), Some(Cause::ContactExists));
    }
    if has("forgotten") {
        return (Some(Outcome::Suppressed), Some(Cause::Forgotten));
    }
    if has("unsubscribed")
        || has("compliance")
        || has("bounced")
        || has("suppress")
        || has("opted out")
        || has("blocklist")
        || has("blacklist")
    {
        return (Some(Outcome::Suppressed), Some(Cause::Unsubscribed));
    }
    if status == 500 || (200..300).contains(&status) {
        return (None, None);
    }
    if has("email")
        && (has("invalid")
            || has("valid email")
            || has("not valid")
            || has("malformed")
            || has("utf-8")
            || has("charset"))
    {
        return (Some(Outcome::InvalidData), Some(Cause::InvalidEmail));
    }
    if has("must be one of") || has("not one of the allowed") || has("allowed values:") {
        return (Some(Outcome::InvalidData), Some(Cause::NotAnOption));
    }
    if has("unknown field") || has("unknown property") || has("no such field") {
        return (Some(Outcome::InvalidData), Some(Cause::UnknownField));
    }
    if has("e.164") || has("yyyy-mm-dd") || has("date format") || has("phone number format") {
        return (Some(Outcome::InvalidData), Some(Cause::InvalidFormat));
    }
    if has("required") || has("missing") {
        return (Some(Outcome::InvalidData), Some(Cause::RequiredField));
    }
    (None, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(status: u16, body: &str) -> Extracted {
        let mut found = extract(status, &Body::parse(body.as_bytes()), &Extracted::default());
        decide_by_keywords(status, &mut found);
        found
    }

    #[test]
    fn errors_array_gives_code_message_and_field() {
        let e = read(
            400,
            r#"{"errors":[{"code":"email_invalid","message":"Email is invalid","field":"contacts[0].email"}]}"#,
        );
        assert_eq!(e.code.as_deref(), Some("email_invalid"));
        assert_eq!(e.message.as_deref(), Some("Email is invalid"));
        assert_eq!(e.field.as_deref(), Some("contacts[0].email"));
    }

    #[test]
    fn a_bare_error_sentence_is_a_message_not_a_code() {
        let e = read(400, r#"{"error":"Something went wrong with the email"}"#);
        assert_eq!(e.code, None);
        assert_eq!(
            e.message.as_deref(),
            Some("Something went wrong with the email")
        );
        let e = read(
            400,
            r#"{"error":"invalid_grant","error_description":"expired"}"#,
        );
        assert_eq!(e.code.as_deref(), Some("invalid_grant"));
        assert_eq!(e.message.as_deref(), Some("expired"));
    }

    #[test]
    fn problem_json_title_is_the_code_and_type_url_is_not() {
        let e = read(
            404,
            r#"{"type":"https://example.com/probs/nf","title":"Not Here","status":404,"detail":"gone"}"#,
        );
        assert_eq!(e.code.as_deref(), Some("Not Here"));
        assert_eq!(e.message.as_deref(), Some("gone"));
    }

    #[test]
    fn a_success_body_that_reports_failure_is_not_delivered() {
        let e = read(200, r#"{"success":false,"message":"list is closed"}"#);
        assert_eq!(e.outcome, Some(Outcome::Unexpected));
        assert_eq!(read(200, r#"{"success":true}"#).outcome, None);
    }

    #[test]
    fn a_duplicate_behind_a_500_is_benign() {
        let e = read(500, r#"{"message":"Contact already exists"}"#);
        assert_eq!(e.outcome, Some(Outcome::Duplicate));
    }

    #[test]
    fn a_403_limit_is_a_rate_limit() {
        let e = read(
            403,
            r#"[{"message":"TotalRequests Limit exceeded.","errorCode":"REQUEST_LIMIT_EXCEEDED"}]"#,
        );
        assert_eq!(e.outcome, Some(Outcome::RateLimited));
        assert_eq!(e.code.as_deref(), Some("REQUEST_LIMIT_EXCEEDED"));
    }

    #[test]
    fn hubspot_forms_quoted_field_is_found_in_text() {
        let e = read(
            400,
            r#"{"status":"error","message":"The request is not valid","errors":[{"message":"Error in 'fields.email'. Invalid email address","errorType":"INVALID_EMAIL"}]}"#,
        );
        assert_eq!(e.field.as_deref(), Some("fields.email"));
        assert_eq!(e.code.as_deref(), Some("INVALID_EMAIL"));
    }

    #[test]
    fn truncated_json_is_salvaged_not_shown_raw() {
        let e = read(
            400,
            r#"{"errors":[{"code":"invalid_email","message":"Email address is inva"#,
        );
        assert_eq!(e.code.as_deref(), Some("invalid_email"));
        assert_eq!(e.message.as_deref(), Some("Email address is inva"));
        let e = read(400, r#"{"message": "say \"hi\" now", "code": 7"#);
        assert_eq!(e.message.as_deref(), Some(r#"say "hi" now"#));
    }

    #[test]
    fn per_request_ids_are_never_codes() {
        let e = read(
            500,
            r#"{"ErrorIdentifier":"A8EBD4F2-69F4-4DFA-9547-EB4B5EF48D93","ErrorMessage":"An Unexpected Error occurred"}"#,
        );
        assert_eq!(e.code, None);
        assert!(!is_request_id("0x80040237"));
        assert!(!is_request_id("duplicate_profile"));
        assert!(is_request_id("9d741ebc6a2f4b0e8c1d3f5a7b9e0c2d"));
    }

    #[test]
    fn text_bodies_give_their_first_line() {
        let e = read(502, "\n  upstream connect error\nmore");
        assert_eq!(e.message.as_deref(), Some("upstream connect error"));
    }

    #[test]
    fn field_errors_are_read_from_an_unknown_apis_words() {
        let e = read(
            422,
            r#"{"error":"Unknown field 'emial'. Valid fields: email, first_name, phone"}"#,
        );
        assert_eq!(e.cause, Some(Cause::UnknownField));
        assert_eq!(e.field.as_deref(), Some("emial"));
        assert_eq!(e.allowed, ["email", "first_name", "phone"]);
        let e = read(
            400,
            r#"{"message":"interest must be one of: a, b","field":"interest"}"#,
        );
        assert_eq!((e.cause, e.allowed.len()), (Some(Cause::NotAnOption), 2));
        let e = read(400, r#"{"message":"phone must be in E.164 format"}"#);
        assert_eq!(e.cause, Some(Cause::InvalidFormat));
        assert!(e.format.is_some());
        assert_eq!(named_field("No such field \"x y\""), None);
        assert_eq!(
            named_field("unknown property `shoe_size`").as_deref(),
            Some("shoe_size")
        );
    }
}

//! Reading answers from webhooks and unknown APIs, and filling what a provider module left
//! open: the common error shapes (`{errors:[...]}`, `{error:{...}}`, problem+json, arrays,
//! plain text, HTML pages and XML documents), in the priority order of
//! `reference/providers.md`.

use super::body::{at, first_at, text_at, value_after_key, Body};
use super::extracted::Extracted;
use super::retry::Headers;
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
        Body::Html {
            title,
            markup,
            lower,
        } => {
            let mut found = Extracted {
                message: title.clone(),
                ..Extracted::default()
            };
            if known.outcome.is_none() && (200..300).contains(&status) && xml_failure(lower) {
                let code = known
                    .code
                    .is_none()
                    .then(|| xml_code(markup, lower))
                    .flatten();
                let said = known.message.as_deref().or(found.message.as_deref());
                found.decide(Some(failure_meaning(
                    code.as_deref().or(known.code.as_deref()),
                    said,
                )));
                found.code = code;
            }
            found
        }
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
                first_error.and_then(|e| text_at(e, &["extensions", "code"])),
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

    let mut found = Extracted {
        code,
        message,
        field,
        ..Extracted::default()
    };
    if known.outcome.is_none() && (200..300).contains(&status) && success_body_failure(root) {
        let code = found.code.as_deref().or(known.code.as_deref());
        let said = known.message.as_deref().or(found.message.as_deref());
        found.decide(Some(failure_meaning(code, said)));
    }
    found
}

/// A 2xx body that clearly says the data was not taken: `"success": false`,
/// `"ok": false`, `"status": "error"`, or a non-empty `errors` list without data beside
/// it (a GraphQL answer whose `data`, or each operation in it, is null).
fn success_body_failure(root: &Value) -> bool {
    let flag_false = |k: &str| at(root, &[k]).and_then(Value::as_bool) == Some(false);
    let status_error = text_at(root, &["status"])
        .is_some_and(|s| s.eq_ignore_ascii_case("error") || s.eq_ignore_ascii_case("failed"));
    let no_data = at(root, &["data"]).is_none_or(|data| match data {
        Value::Object(operations) => operations.values().all(Value::is_null),
        other => other.is_null(),
    });
    let has_errors = at(root, &["errors"])
        .and_then(Value::as_array)
        .is_some_and(|a| !a.is_empty())
        && no_data;
    flag_false("success") || flag_false("ok") || status_error || has_errors
}

/// An XML document behind a 2xx that reports an error: a SOAP fault, an `<error>`
/// element, ActiveCampaign v1's `<result_code>0</result_code>`, `<status>error</status>`
/// or `<success>false</success>`. An HTML page is never one.
fn xml_failure(lower: &str) -> bool {
    let xml = lower.starts_with("<?xml") || !(lower.contains("<html") || lower.contains("<body"));
    xml && (lower.contains("faultstring>")
        || lower.contains(":fault>")
        || lower.contains("<fault>")
        || (lower.contains("<error>") && !lower.contains("<error></error>"))
        || lower.contains("<error ")
        || lower.contains("<result_code>0<")
        || lower.contains("<status>error<")
        || lower.contains("<success>false<"))
}

/// The code of an XML error: a SOAP `<faultcode>` or an `<error code="...">`-style
/// `<code>` element, when it reads as an identifier.
fn xml_code(markup: &str, lower: &str) -> Option<String> {
    ["<faultcode>", "<code>", "<errorcode>"]
        .iter()
        .find_map(|open| {
            let start = lower.find(open)? + open.len();
            let end = lower[start..].find('<')? + start;
            Some(markup[start..end].trim().to_owned())
        })
        .filter(|c| is_identifier(c) && c.parse::<u32>().is_err())
}

/// What a 2xx answer that reports a failure means, read from its code and message the
/// way a refusal would be: a duplicate, a bad address, a missing field, an unknown key,
/// a missing permission. What the words do not tell stays a failure despite the status.
fn failure_meaning(code: Option<&str>, message: Option<&str>) -> (Outcome, Cause) {
    let hay = lowercase_head(code, message);
    let has = |w: &str| hay.contains(w);
    if [
        "permission",
        "forbidden",
        "insufficient_scope",
        "missing_scope",
        "missing scope",
        "not allowed to",
    ]
    .iter()
    .any(|w| has(w))
    {
        return (Outcome::Forbidden, Cause::MissingPermission);
    }
    if has("expired") && (has("token") || has("session") || has("key")) {
        return (Outcome::Unauthorized, Cause::ExpiredCredentials);
    }
    if [
        "not authorized",
        "unauthorized",
        "unauthenticated",
        "not authenticated",
        "authentication failed",
        "invalid_auth",
        "not_authed",
        "invalid api key",
        "invalid_api_key",
        "api key is invalid",
        "invalid token",
        "invalid_token",
        "invalid credentials",
    ]
    .iter()
    .any(|w| has(w))
        || (["api key", "api_key", "apikey", "token"]
            .iter()
            .any(|w| has(w))
            && [
                "missing",
                "invalid",
                "wrong",
                "unknown",
                "revoked",
                "not valid",
            ]
            .iter()
            .any(|w| has(w)))
    {
        return (Outcome::Unauthorized, Cause::BadCredentials);
    }
    if let (Some(outcome), Some(cause)) = keyword_outcome_in(400, &hay) {
        return (outcome, cause);
    }
    if has("not found") || has("does not exist") || has("not_found") || has("no such") {
        return (Outcome::NotFound, Cause::ResourceNotFound);
    }
    if has("invalid") || has("bad_user_input") || has("validation") {
        return (Outcome::InvalidData, Cause::InvalidData);
    }
    (Outcome::Unexpected, Cause::FailedDespiteSuccessStatus)
}

/// What stood in front of the provider and answered in its place: a CDN's or a
/// firewall's security check, or a sign-in page. Such a body is nobody's API answer, so
/// it is read before any provider reader; `None` when the answer is the provider's own.
pub(crate) fn in_front(status: u16, headers: &Headers<'_>, body: &Body<'_>) -> Option<Extracted> {
    let (outcome, cause) = match security_check(status, headers, body) {
        Some(Gate::Challenge) => (Outcome::ServerError, Cause::SecurityChallenge),
        Some(Gate::Block) => (Outcome::Forbidden, Cause::SecurityCheck),
        None if (200..300).contains(&status)
            && body.markup_lower().is_some_and(is_sign_in_page) =>
        {
            (Outcome::Unauthorized, Cause::SignInPage)
        }
        None => return None,
    };
    let mut found = Extracted {
        message: body.text().map(str::to_owned),
        no_code: true,
        ..Extracted::default()
    };
    found.decide(Some((outcome, cause)));
    Some(found)
}

/// What kind of security check answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Gate {
    /// A check a browser passes (a JavaScript challenge, a CAPTCHA): usually triggered
    /// for a while by traffic that looks automated, then lifted.
    Challenge,
    /// A firewall rule that refused the request outright.
    Block,
}

/// Reads the headers and the page for a CDN's or a web firewall's check: Cloudflare
/// (`cf-mitigated: challenge`, "Just a moment...", "Attention Required! | Cloudflare"),
/// Akamai ("Access Denied" with a reference number), Imperva/Incapsula, AWS WAF (its
/// action header, CloudFront's "Request blocked", a 403 from an AWS load balancer),
/// Sucuri, DataDome, Wordfence and ModSecurity. A CDN's rate limit (429) is left to the
/// rate-limit reading: it says when to come back.
fn security_check(status: u16, headers: &Headers<'_>, body: &Body<'_>) -> Option<Gate> {
    // The statuses such pages come with: 403 mostly, 503 for older challenges and
    // Wordfence, 405 and 202 for AWS WAF, 406 for ModSecurity, 200 for Imperva.
    if !matches!(status, 200..=299 | 401 | 403 | 405 | 406 | 503) {
        return None;
    }
    let mut gate = None;
    let mut aws_balancer = false;
    let mut akamai = false;
    let (mut datadome, mut datadome_block) = (false, false);
    for (name, value) in headers.0 {
        let (name, value) = (name.trim(), value.trim());
        let is = |n: &str| name.eq_ignore_ascii_case(n);
        if is("cf-mitigated") && value.eq_ignore_ascii_case("challenge") {
            gate = Some(Gate::Challenge);
        } else if is("x-amzn-waf-action") {
            gate = Some(if value.eq_ignore_ascii_case("block") {
                Gate::Block
            } else {
                Gate::Challenge
            });
        } else if is("x-datadome") {
            datadome = true;
        } else if is("x-dd-b") {
            // DataDome marks the answers it gave itself (its CAPTCHA or block) this way.
            datadome_block = true;
        } else if is("x-sucuri-block") {
            gate = Some(Gate::Block);
        } else if is("server") {
            aws_balancer = value.starts_with("awselb");
            akamai = value.eq_ignore_ascii_case("AkamaiGHost");
        }
    }
    if datadome && datadome_block && matches!(status, 401 | 403 | 405) {
        gate = Some(Gate::Challenge);
    }
    if gate.is_some() {
        return gate;
    }
    let lower = body.markup_lower()?;
    if lower.starts_with("<?xml") && !lower.contains("<html") {
        return None;
    }
    let has = |w: &str| lower.contains(w);
    if has("you are being rate limited") {
        return None;
    }
    let challenge = [
        "<title>just a moment",
        "_cf_chl_opt",
        "/cdn-cgi/challenge-platform",
        "checking your browser before accessing",
        "verifying you are human",
        "sucuri_cloudproxy_js",
        "captcha-delivery.com",
        "ddos-guard",
    ];
    if challenge.iter().any(|w| has(w)) {
        return Some(Gate::Challenge);
    }
    let block = [
        "attention required! | cloudflare",
        "sorry, you have been blocked",
        "used cloudflare to restrict access",
        "errors.edgesuite.net",
        "reference&#32;&#35;",
        "incapsula incident id",
        "_incapsula_resource",
        "sucuri website firewall",
        "generated by wordfence",
        "mod_security",
    ];
    let cloudfront_waf = has("generated by cloudfront") && has("request blocked");
    let akamai_denied = has("access denied") && (akamai || has("reference #"));
    let aws_waf = aws_balancer && status == 403;
    (block.iter().any(|w| has(w)) || cloudfront_waf || akamai_denied || aws_waf)
        .then_some(Gate::Block)
}

/// An HTML page with a password box, or titled as a sign-in page: what a web app shows
/// a visitor who is not signed in, never an API's answer.
fn is_sign_in_page(lower: &str) -> bool {
    if lower.starts_with("<?xml") && !lower.contains("<html") {
        return false;
    }
    let password_box = ["type=\"password\"", "type='password'", "type=password"]
        .iter()
        .any(|w| lower.contains(w));
    let title = lower
        .find("<title")
        .and_then(|start| {
            let inner = start + lower[start..].find('>')? + 1;
            let end = inner + lower[inner..].find("</title")?;
            Some(&lower[inner..end])
        })
        .unwrap_or("");
    password_box
        || [
            "sign in",
            "sign-in",
            "signin",
            "log in",
            "login",
            "single sign-on",
        ]
        .iter()
        .any(|w| title.contains(w))
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
    keyword_outcome_in(status, &lowercase_head(code, message))
}

/// [`keyword_outcome`] over the code and message already lower-cased by [`lowercase_head`].
fn keyword_outcome_in(status: u16, hay: &str) -> (Option<Outcome>, Option<Cause>) {
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

    fn front(status: u16, headers: &[(&str, &str)], body: &str) -> Option<(Outcome, Cause)> {
        let headers: Vec<(String, String)> = headers
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        in_front(status, &Headers(&headers), &Body::parse(body.as_bytes()))
            .map(|e| (e.outcome.expect("an outcome"), e.cause.expect("a cause")))
    }

    const CHALLENGE: (Outcome, Cause) = (Outcome::ServerError, Cause::SecurityChallenge);
    const BLOCK: (Outcome, Cause) = (Outcome::Forbidden, Cause::SecurityCheck);

    #[test]
    fn a_challenge_is_known_by_its_header_or_its_page() {
        let page =
            "<!DOCTYPE html><html><head><title>Just a moment...</title></head><body></body></html>";
        assert_eq!(
            front(403, &[("CF-Mitigated", "challenge")], "{}"),
            Some(CHALLENGE)
        );
        assert_eq!(front(503, &[], page), Some(CHALLENGE));
        assert_eq!(
            front(202, &[("x-amzn-waf-action", "challenge")], ""),
            Some(CHALLENGE)
        );
        assert_eq!(
            front(405, &[("x-amzn-waf-action", "captcha")], ""),
            Some(CHALLENGE)
        );
        let datadome = [("X-DataDome", "protected"), ("X-DD-B", "1")];
        assert_eq!(front(403, &datadome, "{}"), Some(CHALLENGE));
        // The app's own refusal on a site DataDome protects is the app's.
        assert_eq!(front(403, &datadome[..1], "{}"), None);
    }

    #[test]
    fn a_block_page_is_a_firewall_not_a_permission() {
        for page in [
            "<html><head><title>Attention Required! | Cloudflare</title></head></html>",
            "<HTML><HEAD><TITLE>Access Denied</TITLE></HEAD><BODY>Reference&#32;&#35;18&#46;1</BODY></HTML>",
            "<html><body><iframe>Request unsuccessful. Incapsula incident ID: 1-2</iframe></body></html>",
            "<html><head><title>Sucuri WebSite Firewall - Access Denied</title></head></html>",
            "<html><body><h1>403 ERROR</h1>Request blocked. Generated by cloudfront (CloudFront)</body></html>",
        ] {
            assert_eq!(front(403, &[], page), Some(BLOCK), "{page}");
        }
        let bare = "<html><head><title>403 Forbidden</title></head></html>";
        assert_eq!(front(403, &[("Server", "awselb/2.0")], bare), Some(BLOCK));
        assert_eq!(front(403, &[("Server", "nginx")], bare), None);
        assert_eq!(front(403, &[("x-sucuri-block", "BNP005")], ""), Some(BLOCK));
    }

    #[test]
    fn ordinary_answers_behind_a_cdn_are_the_providers_own() {
        // Every answer through Cloudflare has a cf-ray; that alone says nothing.
        let headers = [("cf-ray", "8e1f2a3b4c5d6e7f-AMS"), ("Server", "cloudflare")];
        assert_eq!(
            front(403, &headers, r#"{"message":"Missing scopes"}"#),
            None
        );
        assert_eq!(front(200, &headers, r#"{"id":"1"}"#), None);
        // A CDN's rate limit says when to come back: it stays a rate limit.
        let limited = "<html><head><title>Access denied | x used Cloudflare to restrict access</title></head><body>Error 1015 You are being rate limited</body></html>";
        assert_eq!(front(429, &[], limited), None);
        assert_eq!(front(403, &[], limited), None);
        // Cloudflare's own 5xx pages are outages, not checks.
        let origin = "<html><head><title>x | 525: SSL handshake failed</title></head><body>Cloudflare Ray ID</body></html>";
        assert_eq!(front(525, &[], origin), None);
    }

    #[test]
    fn a_sign_in_page_behind_a_success_is_unauthorized() {
        let form = r#"<html><head><title>Portal</title></head><body><form><input type="password" name="pw"></form></body></html>"#;
        assert_eq!(
            front(200, &[], form),
            Some((Outcome::Unauthorized, Cause::SignInPage))
        );
        let titled = "<html><head><title>Login | Salesforce</title></head><body></body></html>";
        assert_eq!(
            front(200, &[], titled),
            Some((Outcome::Unauthorized, Cause::SignInPage))
        );
        // A 401 page needs no help, and an ordinary page behind 200 is no sign-in page.
        assert_eq!(front(401, &[], form), None);
        let plain = "<html><head><title>Thanks!</title></head><body>We got it.</body></html>";
        assert_eq!(front(200, &[], plain), None);
    }

    #[test]
    fn an_xml_error_behind_a_success_is_read_by_its_words() {
        let e = read(
            200,
            r#"<?xml version="1.0"?><r><result_code>0</result_code><result_message>You are not authorized to access this file</result_message></r>"#,
        );
        assert_eq!(
            (e.outcome, e.cause),
            (Some(Outcome::Unauthorized), Some(Cause::BadCredentials))
        );
        let e = read(
            200,
            "<soap:Envelope><soap:Body><soap:Fault><faultcode>soap:Client</faultcode><faultstring>Contact already exists</faultstring></soap:Fault></soap:Body></soap:Envelope>",
        );
        assert_eq!(e.outcome, Some(Outcome::Duplicate));
        assert_eq!(e.code.as_deref(), Some("soap:Client"));
        let ok = read(
            200,
            r#"<?xml version="1.0"?><r><result_code>1</result_code></r>"#,
        );
        assert_eq!(ok.outcome, None);
        let no_error = read(
            200,
            r#"<?xml version="1.0"?><r><id>7</id><error></error></r>"#,
        );
        assert_eq!(no_error.outcome, None);
    }

    #[test]
    fn a_failure_behind_a_success_says_what_it_was() {
        for (body, want) in [
            (
                r#"{"ok":false,"error":"invalid_auth"}"#,
                Outcome::Unauthorized,
            ),
            (
                r#"{"ok":false,"error":"missing_scope"}"#,
                Outcome::Forbidden,
            ),
            (
                r#"{"status":"error","message":"duplicate lead"}"#,
                Outcome::Duplicate,
            ),
            (
                r#"{"success":false,"message":"Invalid email address"}"#,
                Outcome::InvalidData,
            ),
            (
                r#"{"success":false,"message":"API key is missing"}"#,
                Outcome::Unauthorized,
            ),
            (
                r#"{"success":false,"message":"List is closed"}"#,
                Outcome::Unexpected,
            ),
            (
                r#"{"errors":[{"message":"x","extensions":{"code":"UNAUTHENTICATED"}}],"data":null}"#,
                Outcome::Unauthorized,
            ),
            (
                r#"{"data":{"createLead":null},"errors":[{"message":"List not found"}]}"#,
                Outcome::NotFound,
            ),
        ] {
            assert_eq!(read(200, body).outcome, Some(want), "{body}");
        }
        // Partial GraphQL success: the data came back, the errors are about something else.
        let partial =
            r#"{"data":{"createLead":{"id":"1"}},"errors":[{"message":"deprecated field"}]}"#;
        assert_eq!(read(200, partial).outcome, None);
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

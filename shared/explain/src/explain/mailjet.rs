//! Reading Mailjet API v3 answers.
//!
//! Errors are `{"ErrorInfo":"","ErrorMessage":"MJ18 A Contact resource with value ...
//! already exists.","StatusCode":400}`, sometimes wrapped in an array. The only error
//! identifier is the `MJnn` token that opens some messages; `ErrorIdentifier`, when
//! present, is a per-request UUID and `StatusCode` repeats the HTTP status, so neither is
//! a code. Bulk contact endpoints answer 201 with a `JobID`: taken for later processing
//! (<https://dev.mailjet.com/email/reference/overview/errors/>). A `PUT` that changes
//! nothing (the contact already holds the values sent, as on a retry) answers 304 Not
//! Modified: nothing lost, read as `duplicate`
//! (<https://dev.mailjet.com/docs/email-api/email_api_overview/status_codes>).

use super::body::{contains_ci, Body};
use super::extracted::Extracted;
use crate::catalogue::Cause;
use crate::verdict::Outcome;

/// What a Mailjet answer says beyond its status.
pub(crate) fn extract(status: u16, body: &Body<'_>) -> Extracted {
    let mut found = Extracted {
        no_code: true,
        ..Extracted::default()
    };
    if status == 304 {
        found.decide(Some((Outcome::Duplicate, Cause::Unchanged)));
        return found;
    }
    if (200..300).contains(&status) {
        let job = body
            .str_at(&["Data", "0", "JobID"])
            .or_else(|| body.str_at(&["0", "Data", "0", "JobID"]));
        if job.is_some() {
            found.decide(Some((Outcome::Accepted, Cause::Accepted)));
        }
        return found;
    }
    let Some(text) = body
        .message_at(&["ErrorMessage"])
        .or_else(|| body.message_at(&["0", "ErrorMessage"]))
    else {
        return found;
    };
    let (token, message) = split_token(&text);
    found.decide(by_words(token, message));
    if found.cause == Some(Cause::UnknownField) {
        found.field = no_such_property(message);
    }
    found.code = token.map(str::to_owned);
    found.message = Some(message.to_owned());
    found
}

/// `MJ18 A Contact resource ...` → (`MJ18`, `A Contact resource ...`).
fn split_token(text: &str) -> (Option<&str>, &str) {
    let bytes = text.as_bytes();
    let is_token = bytes.len() > 4
        && bytes.starts_with(b"MJ")
        && bytes[2].is_ascii_digit()
        && bytes[3].is_ascii_digit()
        && bytes[4] == b' ';
    if is_token {
        (Some(&text[..4]), text[5..].trim_start())
    } else {
        (None, text)
    }
}

fn by_words(token: Option<&str>, message: &str) -> Option<(Outcome, Cause)> {
    let said = |w: &str| contains_ci(message, w);
    let meaning = if token == Some("MJ18") || said("already exists") {
        (Outcome::Duplicate, Cause::ContactExists)
    } else if said("has no property") || said("invalid key name") {
        (Outcome::InvalidData, Cause::UnknownField)
    } else if said("email") && (said("invalid") || said("not valid") || said("not a valid")) {
        (Outcome::InvalidData, Cause::InvalidEmail)
    } else if said("object not found") {
        (Outcome::NotFound, Cause::ResourceNotFound)
    } else if said("invalid json") {
        (Outcome::InvalidData, Cause::MalformedRequest)
    } else {
        return None;
    };
    Some(meaning)
}

/// `Invalid json input: object ""->"TContact" has no property "firstname"` → `firstname`;
/// `Invalid key name: "createdate"` → `createdate`.
fn no_such_property(message: &str) -> Option<String> {
    let after = message
        .find("has no property \"")
        .map(|i| i + "has no property \"".len())
        .or_else(|| {
            message
                .find("Invalid key name: \"")
                .map(|i| i + "Invalid key name: \"".len())
        })?;
    let end = message[after..].find('"')? + after;
    let name = &message[after..end];
    (!name.is_empty()).then(|| name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(status: u16, body: &str) -> Extracted {
        extract(status, &Body::parse(body.as_bytes()))
    }

    #[test]
    fn mj18_is_a_duplicate_and_the_token_is_the_code() {
        let e = read(
            400,
            r#"{"ErrorInfo":"","ErrorMessage":"MJ18 A Contact resource with value \"lena@example.com\" for Email already exists.","StatusCode":400}"#,
        );
        assert_eq!(e.code.as_deref(), Some("MJ18"));
        assert_eq!(e.outcome, Some(Outcome::Duplicate));
        assert_eq!(
            e.message.as_deref(),
            Some(r#"A Contact resource with value "lena@example.com" for Email already exists."#)
        );
    }

    #[test]
    fn an_array_wrapped_error_is_read_too() {
        let e = read(
            400,
            r#"[{"ErrorInfo":"","ErrorMessage":"MJ18 A Contact resource with value \"x@y.z\" for Email already exists.","StatusCode":400}]"#,
        );
        assert_eq!(e.code.as_deref(), Some("MJ18"));
    }

    #[test]
    fn the_error_identifier_is_never_the_code() {
        let e = read(
            500,
            r#"{"ErrorIdentifier":"A8EBD4F2-69F4-4DFA-9547-EB4B5EF48D93","ErrorInfo":"","ErrorMessage":"An Unexpected Error occurred during API request","StatusCode":"500"}"#,
        );
        assert_eq!(e.code, None);
        assert!(e.no_code);
    }

    #[test]
    fn an_unknown_property_is_named() {
        let e = read(
            400,
            r#"{"ErrorInfo":"","ErrorMessage":"Invalid json input: object \"\"->\"TContact\" has no property \"firstname\"","StatusCode":400}"#,
        );
        assert_eq!(e.field.as_deref(), Some("firstname"));
        assert_eq!(e.cause, Some(Cause::UnknownField));
    }

    #[test]
    fn a_malformed_address_is_invalid_email_by_mailjets_own_words() {
        let e = read(
            400,
            r#"{"ErrorInfo":"","ErrorMessage":"Email \"lena@example\" is not a valid email address","StatusCode":400}"#,
        );
        assert_eq!(
            (e.outcome, e.cause),
            (Some(Outcome::InvalidData), Some(Cause::InvalidEmail))
        );
        assert_eq!(e.code, None);
    }

    #[test]
    fn a_put_that_changes_nothing_is_a_benign_duplicate() {
        let e = read(304, "");
        assert_eq!(
            (e.outcome, e.cause),
            (Some(Outcome::Duplicate), Some(Cause::Unchanged))
        );
    }

    #[test]
    fn a_bulk_job_is_accepted() {
        let e = read(201, r#"{"Count":1,"Data":[{"JobID":113869785}],"Total":1}"#);
        assert_eq!(e.outcome, Some(Outcome::Accepted));
    }
}

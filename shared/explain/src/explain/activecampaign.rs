//! Reading ActiveCampaign answers: API v3, and the legacy v1 API still behind many
//! integrations.
//!
//! v3 errors are `{"errors":[{"title","detail","code","error"?,"source":{"pointer"}}]}`:
//! `code` is the identifier (`duplicate`, `email_invalid`, `field_missing`), `title` the
//! message (`detail` is usually empty) and `source.pointer` the field. Other refusals are
//! a bare `{"message": "..."}`. The v1 API answers 200 even on failure, with
//! `"result_code": 0` and the reason in `result_message`. Asked for XML (`api_output=xml`),
//! the same answer is an XML document with `<result_code>0</result_code>` (or a bare
//! `<error>`), which the generic reader reads as a failure behind a success status.

use super::body::{contains_ci, Body};
use super::extracted::Extracted;
use crate::catalogue::{self, Cause};
use crate::verdict::Outcome;
use serde_json::Value;

/// What an ActiveCampaign answer says beyond its status.
pub(crate) fn extract(status: u16, body: &Body<'_>) -> Extracted {
    if (200..300).contains(&status) {
        return v1_failure(body).unwrap_or_default();
    }
    let code = body.str_at(&["errors", "0", "code"]);
    let field = body.str_at(&["errors", "0", "source", "pointer"]);
    let mut found = Extracted {
        message: body
            .message_at(&["errors", "0", "title"])
            .or_else(|| body.message_at(&["errors", "0", "detail"]))
            .or_else(|| body.message_at(&["message"])),
        ..Extracted::default()
    };
    found.decide(code.as_deref().and_then(|c| by_code(c, field.as_deref())));
    found.field = field;
    found.code = code;
    found
}

fn by_code(code: &str, field: Option<&str>) -> Option<(Outcome, Cause)> {
    let about_email = field
        .and_then(|f| f.rsplit('/').next())
        .is_some_and(catalogue::is_email_field);
    let meaning = match code {
        "duplicate" => (Outcome::Duplicate, Cause::ContactExists),
        "email_invalid" => (Outcome::InvalidData, Cause::InvalidEmail),
        "field_missing" => (Outcome::InvalidData, Cause::RequiredField),
        "field_invalid" | "invalid" if about_email => (Outcome::InvalidData, Cause::InvalidEmail),
        "field_invalid" | "invalid" => (Outcome::InvalidData, Cause::InvalidValue),
        "related_missing" => (Outcome::NotFound, Cause::ResourceNotFound),
        _ => return None,
    };
    Some(meaning)
}

/// A v1 answer: 200 with `result_code: 0` is a refusal; its message says which.
fn v1_failure(body: &Body<'_>) -> Option<Extracted> {
    let json = body.json()?;
    let result_code = match json.get("result_code")? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }?;
    if result_code != 0 {
        return None;
    }
    let message = body.message_at(&["result_message"]);
    let said = |w: &str| message.as_deref().is_some_and(|m| contains_ci(m, w));
    let meaning = if said("not authorized") {
        (Outcome::Unauthorized, Cause::BadCredentials)
    } else if said("email") && (said("invalid") || said("not valid")) {
        (Outcome::InvalidData, Cause::InvalidEmail)
    } else if said("already") {
        (Outcome::Duplicate, Cause::ContactExists)
    } else {
        (Outcome::Unexpected, Cause::FailedDespiteSuccessStatus)
    };
    let mut found = Extracted {
        message,
        ..Extracted::default()
    };
    found.decide(Some(meaning));
    Some(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(status: u16, body: &str) -> Extracted {
        extract(status, &Body::parse(body.as_bytes()))
    }

    #[test]
    fn an_invalid_email_reads_code_title_and_pointer() {
        let e = read(
            422,
            r#"{"errors":[{"title":"Contact Email Address is not valid.","detail":"","code":"email_invalid","error":"must_be_valid_email_address","source":{"pointer":"/data/attributes/email"}}]}"#,
        );
        assert_eq!(e.code.as_deref(), Some("email_invalid"));
        assert_eq!(
            e.message.as_deref(),
            Some("Contact Email Address is not valid.")
        );
        assert_eq!(e.field.as_deref(), Some("/data/attributes/email"));
        assert_eq!(e.cause, Some(Cause::InvalidEmail));
    }

    #[test]
    fn an_existing_email_is_a_duplicate() {
        let e = read(
            422,
            r#"{"errors":[{"title":"Email address already exists in the system.","detail":"","code":"duplicate","source":{"pointer":"/data/attributes/email"}}]}"#,
        );
        assert_eq!(e.outcome, Some(Outcome::Duplicate));
    }

    #[test]
    fn a_v1_200_with_result_code_0_is_not_delivered() {
        let e = read(
            200,
            r#"{"result_code":0,"result_message":"You are not authorized to access this file","result_output":"json"}"#,
        );
        assert_eq!(e.outcome, Some(Outcome::Unauthorized));
        assert_eq!(
            read(200, r#"{"result_code":1,"result_message":"Contact added"}"#),
            Extracted::default()
        );
    }
}

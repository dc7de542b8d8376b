//! Reading HubSpot Forms submission answers (`api.hsforms.com/submissions/v3`).
//!
//! A refused submission answers 400 with `{"status":"error","message":"The request is not
//! valid","correlationId":...,"errors":[{"message":"Error in 'fields.email'. Invalid email
//! address","errorType":"INVALID_EMAIL"}]}`: the `errorType` of the first error is the
//! code, and the field is named only inside its message, quoted as `'fields.<name>'`.
//! A success is a 200 with `inlineMessage` or `redirectUri`.

use super::body::Body;
use super::extracted::Extracted;
use crate::catalogue::Cause;
use crate::verdict::Outcome;

/// What a HubSpot Forms answer says beyond its status.
pub(crate) fn extract(status: u16, body: &Body<'_>) -> Extracted {
    if (200..300).contains(&status) {
        return Extracted::default();
    }
    let error_type = body.str_at(&["errors", "0", "errorType"]);
    let error_message = body.message_at(&["errors", "0", "message"]);
    let more_fields = body
        .json()
        .and_then(|j| j.get("errors"))
        .and_then(serde_json::Value::as_array)
        .map(|errors| {
            errors
                .iter()
                .skip(1)
                .filter_map(|e| e.get("message").and_then(serde_json::Value::as_str))
                .filter_map(quoted_field)
                .take(super::field::MAX_LISTED)
                .collect()
        })
        .unwrap_or_default();
    let mut found = Extracted {
        more_fields,
        field: error_message.as_deref().and_then(quoted_field),
        message: error_message.or_else(|| body.message_at(&["message"])),
        ..Extracted::default()
    };
    found.decide(error_type.as_deref().and_then(by_error_type));
    if found.cause == Some(Cause::InvalidFormat) {
        found.format = Some("a number, written with digits only".to_owned());
    }
    found.code = error_type;
    found
}

/// `Error in 'fields.email'. Invalid email address` → `email`.
fn quoted_field(message: &str) -> Option<String> {
    let start = message.find("'fields.")? + "'fields.".len();
    let end = message[start..].find('\'')? + start;
    let name = message[start..end].trim();
    (!name.is_empty()).then(|| name.to_owned())
}

fn by_error_type(error_type: &str) -> Option<(Outcome, Cause)> {
    let cause = match error_type {
        "INVALID_EMAIL" => Cause::InvalidEmail,
        // The form is set to block some email domains (free providers, competitors, a
        // list): the address itself may be fine, the form refuses it.
        "BLOCKED_EMAIL" => Cause::EmailDomainBlocked,
        "REQUIRED_FIELD" => Cause::RequiredField,
        "FIELD_NOT_IN_FORM_DEFINITION" => Cause::UnknownField,
        "VALUE_NOT_IN_FIELD_DEFINITION" => Cause::NotAnOption,
        "INVALID_NUMBER" => Cause::InvalidFormat,
        "NUMBER_OUT_OF_RANGE" => Cause::InvalidValue,
        "INPUT_TOO_LARGE" => Cause::ValueTooLong,
        "MISSING_PROCESSING_CONSENT"
        | "MISSING_PROCESSING_CONSENT_TEXT"
        | "MISSING_COMMUNICATION_CONSENT_TEXT"
        | "MISSING_LEGITIMATE_INTEREST_TEXT"
        | "INVALID_LEGAL_OPTION_FORMAT"
        | "DUPLICATE_SUBSCRIPTION_TYPE_ID" => Cause::ConsentMissing,
        "MAX_NUMBER_OF_SUBMITTED_VALUES_EXCEEDED"
        | "INVALID_METADATA"
        | "INVALID_HUTK"
        | "INVALID_IP_ADDRESS"
        | "INVALID_PAGE_URI"
        | "INVALID_GOTOWEBINAR_WEBINAR_KEY" => Cause::MalformedRequest,
        "FORM_HAS_RECAPTCHA_ENABLED" => return Some((Outcome::Forbidden, Cause::FormCaptcha)),
        _ => return None,
    };
    Some((Outcome::InvalidData, cause))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(status: u16, body: &str) -> Extracted {
        extract(status, &Body::parse(body.as_bytes()))
    }

    #[test]
    fn an_invalid_email_names_the_field_quoted_in_the_message() {
        let e = read(
            400,
            r#"{"status":"error","message":"The request is not valid","correlationId":"f1e2d3c4-b5a6-4978-8695-a4b3c2d1e0f9","errors":[{"message":"Error in 'fields.email'. Invalid email address","errorType":"INVALID_EMAIL"}]}"#,
        );
        assert_eq!(e.code.as_deref(), Some("INVALID_EMAIL"));
        assert_eq!(e.field.as_deref(), Some("email"));
        assert_eq!(e.cause, Some(Cause::InvalidEmail));
    }

    #[test]
    fn a_blocked_email_is_refused_by_the_form_not_suppressed() {
        let e = read(
            400,
            r#"{"status":"error","message":"The request is not valid","errors":[{"message":"Error in 'fields.email'. Email address is blocked","errorType":"BLOCKED_EMAIL"}]}"#,
        );
        assert_eq!(e.outcome, Some(Outcome::InvalidData));
        assert_eq!(e.cause, Some(Cause::EmailDomainBlocked));
    }

    #[test]
    fn consent_problems_point_at_consent() {
        for t in ["MISSING_PROCESSING_CONSENT", "INVALID_LEGAL_OPTION_FORMAT"] {
            let e = read(
                400,
                &format!(r#"{{"errors":[{{"message":"x","errorType":"{t}"}}]}}"#),
            );
            assert_eq!(e.cause, Some(Cause::ConsentMissing), "{t}");
        }
    }

    #[test]
    fn a_field_missing_from_the_form_is_an_unknown_field() {
        let e = read(
            400,
            r#"{"status":"error","message":"The request is not valid","errors":[{"message":"Error in 'fields.favourite_colour'. Field not in form definition","errorType":"FIELD_NOT_IN_FORM_DEFINITION"}]}"#,
        );
        assert_eq!(e.field.as_deref(), Some("favourite_colour"));
        assert_eq!(e.cause, Some(Cause::UnknownField));
    }

    #[test]
    fn a_success_reads_nothing() {
        assert_eq!(
            read(
                200,
                r#"{"inlineMessage":"Thanks for submitting the form."}"#
            ),
            Extracted::default()
        );
    }
}

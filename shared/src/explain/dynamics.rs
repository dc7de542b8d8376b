//! Reading Microsoft Dynamics 365 / Dataverse Web API answers.
//!
//! Errors are OData: `{"error":{"code":"0x80040237","message":"..."}}`, the code a hex
//! error number. Messages of payload errors (`0x80048d19`) open with a generic sentence
//! and carry the useful part after `----> InnerException : `, followed by a stack trace.
//! A duplicate key has come back as 412 (upsert with `If-None-Match`), 400 and, on older
//! versions, 500. Service protection limits answer 429 with `Retry-After`
//! (<https://learn.microsoft.com/power-apps/developer/data-platform/reference/web-service-error-codes>).

use super::body::{contains_ci, Body};
use super::Extracted;
use crate::catalogue::Cause;
use crate::Outcome;

/// What a Dataverse answer says beyond its status.
pub(crate) fn extract(status: u16, body: &Body<'_>) -> Extracted {
    if (200..300).contains(&status) {
        return Extracted::default();
    }
    let code = body.str_at(&["error", "code"]).filter(|c| c != "0x0");
    let full = body.message_at(&["error", "message"]);
    let message = full.as_deref().map(useful_part);
    let mut found = Extracted::default();
    let meaning = code
        .as_deref()
        .and_then(|c| by_code(c, message.as_deref().unwrap_or_default()))
        .or_else(|| message.as_deref().and_then(|m| by_words(status, m)));
    found.decide(meaning);
    if let Some(m) = message.as_deref() {
        found.field = match found.cause {
            Some(Cause::UnknownField) => quoted_after(m, "property '"),
            Some(Cause::ValueTooLong) => quoted_after(m, "length of the '"),
            Some(Cause::InvalidValue) => quoted_after(m, " of '"),
            _ => None,
        };
    }
    found.message = message;
    found.code = code;
    found
}

/// The message without its boilerplate: the inner exception's first line, without the
/// exception type, when there is one.
fn useful_part(message: &str) -> String {
    const INNER: &str = "InnerException : ";
    let inner = match message.find(INNER) {
        Some(i) => &message[i + INNER.len()..],
        None => message,
    };
    let first_line = inner.split(['\r', '\n']).next().unwrap_or(inner);
    let without_type = match first_line.find("Exception: ") {
        Some(i) => &first_line[i + "Exception: ".len()..],
        None => first_line,
    };
    without_type.trim().to_owned()
}

fn by_code(code: &str, message: &str) -> Option<(Outcome, Cause)> {
    let meaning = match code.to_ascii_lowercase().as_str() {
        "0x80040237" => (Outcome::Duplicate, Cause::ContactExists),
        "0x80040217" | "0x80060891" => (Outcome::NotFound, Cause::ResourceNotFound),
        "0x80060888" => (Outcome::NotFound, Cause::EndpointNotFound),
        "0x80040220" | "0x80042f09" | "0x8004140f" => {
            (Outcome::Forbidden, Cause::MissingPermission)
        }
        // Service protection: requests, execution time, concurrent requests.
        "0x80072322" | "0x80072321" | "0x80072326" => (Outcome::RateLimited, Cause::RateLimited),
        "0x80048d19" => (Outcome::InvalidData, payload_cause(message)),
        "0x80044331" => (Outcome::InvalidData, Cause::ValueTooLong),
        "0x8004431a" => (Outcome::InvalidData, Cause::InvalidValue),
        "0x80040203" => (Outcome::InvalidData, Cause::InvalidData),
        // A plug-in or real-time workflow set up in the organisation refused the record.
        "0x80040265" => (Outcome::InvalidData, Cause::BusinessRule),
        _ => return None,
    };
    Some(meaning)
}

/// What a payload error (`0x80048d19`) is about, from its inner message.
fn payload_cause(message: &str) -> Cause {
    if contains_ci(message, "does not exist on type") || contains_ci(message, "undeclared property")
    {
        Cause::UnknownField
    } else if contains_ci(message, "cannot convert the literal") {
        Cause::InvalidValue
    } else {
        Cause::MalformedRequest
    }
}

/// Answers without a code (older versions, the 412 of an upsert) say it in words.
fn by_words(status: u16, message: &str) -> Option<(Outcome, Cause)> {
    if contains_ci(message, "already exists") || contains_ci(message, "duplicate key") {
        Some((Outcome::Duplicate, Cause::ContactExists))
    } else if status == 412 {
        // The record changed since it was read (an ETag mismatch): read it again.
        Some((Outcome::Conflict, Cause::Locked))
    } else {
        None
    }
}

/// The name quoted after `lead_in`: `The property 'x' does not exist` → `x`.
fn quoted_after(message: &str, lead_in: &str) -> Option<String> {
    let start = message.find(lead_in)? + lead_in.len();
    let end = message[start..].find('\'')? + start;
    let name = &message[start..end];
    (!name.is_empty() && !name.contains(' ')).then(|| name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(status: u16, body: &str) -> Extracted {
        extract(status, &Body::parse(body.as_bytes()))
    }

    #[test]
    fn a_duplicate_key_is_a_duplicate_whatever_the_status() {
        for status in [400, 412, 500] {
            let e = read(
                status,
                r#"{"error":{"code":"0x80040237","message":"A record with matching key values already exists."}}"#,
            );
            assert_eq!(e.outcome, Some(Outcome::Duplicate), "{status}");
            assert_eq!(e.code.as_deref(), Some("0x80040237"));
        }
    }

    #[test]
    fn a_412_without_a_code_is_read_by_its_words() {
        let e = read(
            412,
            r#"{"error":{"code":"","message":"A record with matching key values already exists."}}"#,
        );
        assert_eq!((e.outcome, e.code), (Some(Outcome::Duplicate), None));
        let e = read(
            412,
            r#"{"error":{"code":"","message":"The version of the existing record doesn't match the RowVersion property provided."}}"#,
        );
        assert_eq!(e.outcome, Some(Outcome::Conflict));
    }

    #[test]
    fn a_payload_error_names_the_unknown_property() {
        let e = read(
            400,
            r#"{"error":{"code":"0x80048d19","message":"Error identified in Payload provided by the user for Entity :'leads', For more information on this error please follow this help link https://go.microsoft.com/fwlink/?linkid=2195293  ---->  InnerException : Microsoft.OData.ODataException: The property 'favouritecolour' does not exist on type 'Microsoft.Dynamics.CRM.lead'. Make sure to only use property names that are defined by the type or mark the type as open type.\r\n   at Microsoft.OData.JsonLight.ODataJsonLightResourceDeserializer.ReadEntryPropertyAnnotationValue()"}}"#,
        );
        assert_eq!(e.cause, Some(Cause::UnknownField));
        assert_eq!(e.field.as_deref(), Some("favouritecolour"));
        assert!(e.message.as_deref().is_some_and(|m| m
            .starts_with("The property 'favouritecolour'")
            && !m.contains("   at ")));
    }

    #[test]
    fn a_too_long_value_names_the_attribute() {
        let e = read(
            400,
            r#"{"error":{"code":"0x80044331","message":"A validation error occurred. The length of the 'firstname' attribute of the 'lead' entity exceeded the maximum allowed length of '50'."}}"#,
        );
        assert_eq!(e.field.as_deref(), Some("firstname"));
    }

    #[test]
    fn service_protection_limits_are_rate_limits() {
        let e = read(
            429,
            r#"{"error":{"code":"0x80072322","message":"Number of requests exceeded the limit of 6000 over time window of 300 seconds."}}"#,
        );
        assert_eq!(e.outcome, Some(Outcome::RateLimited));
    }
}

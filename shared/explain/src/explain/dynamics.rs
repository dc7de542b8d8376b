//! Reading Microsoft Dynamics 365 / Dataverse Web API answers.
//!
//! Errors are OData: `{"error":{"code":"0x80040237","message":"..."}}`, the code a hex
//! error number. Messages of payload errors (`0x80048d19`) open with a generic sentence
//! and carry the useful part after `----> InnerException : `, followed by a stack trace.
//! A duplicate key has come back as 412 (upsert with `If-None-Match`), 400 and, on older
//! versions, 500. Service protection limits answer 429 with `Retry-After`
//! (<https://learn.microsoft.com/power-apps/developer/data-platform/reference/web-service-error-codes>).
//! Before any of that, the token request to Microsoft Entra ID answers OAuth's
//! `{"error": "invalid_client", "error_description": "AADSTS7000215: …"}`.

use super::body::{contains_ci, Body};
use super::extracted::Extracted;
use super::field;
use crate::catalogue::Cause;
use crate::verdict::Outcome;

/// What a Dataverse answer says beyond its status.
pub(crate) fn extract(status: u16, body: &Body<'_>) -> Extracted {
    if (200..300).contains(&status) {
        return Extracted::default();
    }
    if let Some(error) = body.str_at(&["error"]) {
        return entra_error(error, body.message_at(&["error_description"]));
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
        if found.cause == Some(Cause::BusinessRule) && refuses_the_address(m) {
            found.decide(Some((Outcome::InvalidData, Cause::InvalidEmail)));
            found.field = Some("emailaddress1".to_owned());
        }
        if found.field.is_none() {
            found.field = match found.cause {
                Some(Cause::UnknownField) => quoted_after(m, "property '"),
                Some(Cause::ValueTooLong) => quoted_after(m, "length of the '"),
                Some(Cause::InvalidValue | Cause::NotAnOption) => quoted_after(m, " of '"),
                _ => None,
            };
        }
    }
    if let Some(m) = message.as_deref() {
        match found.cause {
            Some(Cause::NotAnOption) => found.allowed = field::option_list(m),
            Some(Cause::InvalidFormat) => found.format = field::format_in(m),
            _ => {}
        }
    }
    if found.cause == Some(Cause::MissingPermission) {
        found.permission = full.as_deref().and_then(missing_privilege);
    }
    found.message = message;
    found.code = code;
    found
}

/// The privilege a refusal names: `… is missing prvCreateLead privilege (Id=…)`.
fn missing_privilege(message: &str) -> Option<String> {
    let at = message.find("missing prv")? + "missing ".len();
    let name: String = message[at..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    (name.len() > 3).then_some(name)
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
        // Outside the valid range: of a choice column when the message lists the accepted
        // values, else of a number.
        "0x8004431a" if contains_ci(message, "accepted values") => {
            (Outcome::InvalidData, Cause::NotAnOption)
        }
        "0x8004431a" => (Outcome::InvalidData, Cause::InvalidValue),
        "0x80040203" => (Outcome::InvalidData, Cause::InvalidData),
        // A plug-in or real-time workflow set up in the organisation refused the record.
        "0x80040265" => (Outcome::InvalidData, Cause::BusinessRule),
        _ => return None,
    };
    Some(meaning)
}

/// Whether a refusal by the organisation's own validation (a plug-in, `0x80040265`) is
/// about the email address: such plug-ins word their refusals themselves, and one that
/// names the email column and calls it invalid is about the address.
fn refuses_the_address(message: &str) -> bool {
    contains_ci(message, "emailaddress1")
        && (contains_ci(message, "not a valid") || contains_ci(message, "invalid"))
}

/// Microsoft Entra ID's token endpoint answers `{"error", "error_description"}`, the
/// description opening with an `AADSTS` number
/// (<https://learn.microsoft.com/entra/identity-platform/reference-error-codes>). Every
/// refusal is about how the integration signs in, so every one pauses it.
fn entra_error(code: String, description: Option<String>) -> Extracted {
    let meaning = match code.as_str() {
        // A wrong or expired client secret (AADSTS7000215, AADSTS7000222), an unknown
        // application (AADSTS700016), an unknown tenant (AADSTS90002), or a scope no
        // environment answers to (AADSTS500011): all fixed where the app is registered.
        "invalid_client"
        | "unauthorized_client"
        | "invalid_request"
        | "invalid_resource"
        | "invalid_scope" => (Outcome::Unauthorized, Cause::AppCredentials),
        _ => (Outcome::Unauthorized, Cause::BadCredentials),
    };
    let mut found = Extracted {
        message: description.map(|d| first_sentence_line(&d)),
        ..Extracted::default()
    };
    found.decide(Some(meaning));
    found.code = Some(code);
    found
}

/// An Entra ID description without its trailer (`\r\nTrace ID: … Correlation ID: …
/// Timestamp: …`), which changes with every answer and explains nothing.
fn first_sentence_line(description: &str) -> String {
    description
        .split(['\r', '\n'])
        .next()
        .unwrap_or(description)
        .trim()
        .to_owned()
}

/// What a payload error (`0x80048d19`) is about, from its inner message.
fn payload_cause(message: &str) -> Cause {
    if contains_ci(message, "does not exist on type") || contains_ci(message, "undeclared property")
    {
        Cause::UnknownField
    } else if contains_ci(message, "cannot convert the literal") {
        Cause::InvalidFormat
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

    #[test]
    fn a_refused_client_secret_at_entra_id_is_about_the_app_and_drops_the_trace_ids() {
        let e = read(
            401,
            r#"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.\r\nTrace ID: 0d6a3c1e-5f2b-4e7a-9c8d-1b2a3c4d5e6f\r\nCorrelation ID: 7e8f9a0b-1c2d-4e3f-8a9b-0c1d2e3f4a5b\r\nTimestamp: 2026-12-01 22:41:07Z","error_codes":[7000215]}"#,
        );

        assert_eq!(
            (e.outcome, e.cause, e.code.as_deref()),
            (
                Some(Outcome::Unauthorized),
                Some(Cause::AppCredentials),
                Some("invalid_client")
            )
        );
        let message = e.message.unwrap();
        assert!(message.starts_with("AADSTS7000215: Invalid client secret"));
        assert!(!message.contains("Trace ID"), "{message}");
    }

    #[test]
    fn an_unknown_app_tenant_or_environment_at_entra_id_pauses_too() {
        for (status, code) in [
            (400, "unauthorized_client"),
            (400, "invalid_request"),
            (400, "invalid_resource"),
            (400, "something_new"),
        ] {
            let e = read(
                status,
                &format!(r#"{{"error":"{code}","error_description":"AADSTS0: words"}}"#),
            );
            assert_eq!(e.outcome, Some(Outcome::Unauthorized), "{code}");
            assert_eq!(e.code.as_deref(), Some(code));
        }
    }

    #[test]
    fn a_validation_plug_in_refusing_the_email_column_is_an_invalid_address() {
        let e = read(
            400,
            r#"{"error":{"code":"0x80040265","message":"emailaddress1: 'invalid.address@example.com' is not a valid email address."}}"#,
        );
        assert_eq!(
            (e.outcome, e.cause, e.field.as_deref()),
            (
                Some(Outcome::InvalidData),
                Some(Cause::InvalidEmail),
                Some("emailaddress1")
            )
        );
        let other = read(
            400,
            r#"{"error":{"code":"0x80040265","message":"Leads from this campaign need a country."}}"#,
        );
        assert_eq!(other.cause, Some(Cause::BusinessRule));
    }
}

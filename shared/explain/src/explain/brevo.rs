//! Reading Brevo (formerly Sendinblue) API v3 answers.
//!
//! Errors are `{"code": "...", "message": "..."}`, and a duplicate adds
//! `"metadata": {"duplicate_identifiers": ["email"]}` naming the attribute that is
//! already taken (email, SMS, an external id). Brevo has also answered duplicates with
//! `invalid_parameter` and the same metadata, so the metadata decides. Its rate limit
//! reset is `x-sib-ratelimit-reset`, in seconds
//! (<https://developers.brevo.com/docs/how-it-works#error-codes>).

use super::body::{contains_ci, Body};
use super::extracted::Extracted;
use super::field;
use crate::catalogue::Cause;
use crate::verdict::Outcome;

/// What a Brevo answer says beyond its status.
pub(crate) fn extract(status: u16, body: &Body<'_>) -> Extracted {
    if (200..300).contains(&status) {
        return Extracted::default();
    }
    let code = body.str_at(&["code"]);
    let message = body.message_at(&["message"]);
    let duplicate_of = body.str_at(&["metadata", "duplicate_identifiers", "0"]);
    let mut found = Extracted {
        message: message.clone(),
        ..Extracted::default()
    };
    let meaning = if duplicate_of.is_some() {
        Some((Outcome::Duplicate, Cause::ContactExists))
    } else {
        code.as_deref().and_then(|c| by_code(c, message.as_deref()))
    };
    found.decide(meaning);
    found.field = duplicate_of;
    if let Some(m) = message.as_deref() {
        match found.cause {
            Some(Cause::NotAnOption) => found.allowed = field::option_list(m),
            Some(Cause::InvalidFormat) => {
                found.format = field::format_in(m);
                found.field = found.field.take().or_else(|| attribute_named(m));
            }
            Some(Cause::UnknownField) => found.field = attribute_named(m),
            _ => {}
        }
    }
    found.code = code;
    found
}

/// The attribute a Brevo message names: `Attribute FIRSTNAM does not exist` → `FIRSTNAM`,
/// `Invalid phone number` → `SMS` (Brevo keeps the mobile number in the SMS attribute).
fn attribute_named(message: &str) -> Option<String> {
    if contains_ci(message, "phone number") {
        return Some("SMS".to_owned());
    }
    let rest = message
        .find("ttribute ")
        .map(|i| &message[i + "ttribute ".len()..])?;
    let name = rest
        .split(|c: char| c.is_whitespace() || c == ',' || c == '.')
        .next()?
        .trim_matches(|c| c == '\'' || c == '"');
    (!name.is_empty()).then(|| name.to_owned())
}

fn by_code(code: &str, message: Option<&str>) -> Option<(Outcome, Cause)> {
    let said = |w: &str| message.is_some_and(|m| contains_ci(m, w));
    let meaning = match code {
        "duplicate_parameter" => (Outcome::Duplicate, Cause::ContactExists),
        "invalid_parameter" if said("email") => (Outcome::InvalidData, Cause::InvalidEmail),
        "invalid_parameter" | "document_not_found"
            if said("attribute") && (said("does not exist") || said("not found")) =>
        {
            (Outcome::InvalidData, Cause::UnknownField)
        }
        "invalid_parameter" if said("phone number") || said("date format") => {
            (Outcome::InvalidData, Cause::InvalidFormat)
        }
        "invalid_parameter" if said("one of") => (Outcome::InvalidData, Cause::NotAnOption),
        "invalid_parameter" | "out_of_range" => (Outcome::InvalidData, Cause::InvalidValue),
        "missing_parameter" => (Outcome::InvalidData, Cause::RequiredField),
        "bad_request" => (Outcome::InvalidData, Cause::MalformedRequest),
        // With authorised IPs switched on, a valid key from an unlisted address is
        // refused as "unauthorized": the key is fine, the sending address is not allowed.
        "unauthorized" if said("ip address") => (Outcome::Forbidden, Cause::IpNotAllowed),
        "unauthorized" => (Outcome::Unauthorized, Cause::BadCredentials),
        "permission_denied" => (Outcome::Forbidden, Cause::MissingPermission),
        "account_under_validation" => (Outcome::Forbidden, Cause::AccountDisabled),
        "not_enough_credits" => (Outcome::Forbidden, Cause::PlanLimit),
        "document_not_found" => (Outcome::NotFound, Cause::ResourceNotFound),
        "method_not_allowed" => (Outcome::NotFound, Cause::EndpointNotFound),
        "too_many_requests" => (Outcome::RateLimited, Cause::RateLimited),
        _ => return None,
    };
    Some(meaning)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(status: u16, body: &str) -> Extracted {
        extract(status, &Body::parse(body.as_bytes()))
    }

    #[test]
    fn a_duplicate_names_the_taken_identifier() {
        let e = read(
            400,
            r#"{"code":"duplicate_parameter","message":"Unable to create contact, SMS is already associated with another Contact","metadata":{"duplicate_identifiers":["SMS"]}}"#,
        );
        assert_eq!(e.outcome, Some(Outcome::Duplicate));
        assert_eq!(e.field.as_deref(), Some("SMS"));
        assert_eq!(e.code.as_deref(), Some("duplicate_parameter"));
    }

    #[test]
    fn duplicate_metadata_wins_over_an_invalid_parameter_code() {
        let e = read(
            400,
            r#"{"code":"invalid_parameter","message":"Unable to update contact, email is already associated with another Contact","metadata":{"duplicate_identifiers":["email"]}}"#,
        );
        assert_eq!(e.outcome, Some(Outcome::Duplicate));
    }

    #[test]
    fn an_invalid_email_is_invalid_data() {
        let e = read(
            400,
            r#"{"code":"invalid_parameter","message":"Invalid email address"}"#,
        );
        assert_eq!(e.cause, Some(Cause::InvalidEmail));
    }

    #[test]
    fn an_unlisted_ip_is_forbidden_not_a_bad_key() {
        let e = read(
            401,
            r#"{"message":"We have detected you are using an unrecognised IP address 203.0.113.7. If you performed this action make sure to add the new IP address in this link: https://app.brevo.com/security/authorised_ips","code":"unauthorized"}"#,
        );
        assert_eq!(
            (e.outcome, e.cause),
            (Some(Outcome::Forbidden), Some(Cause::IpNotAllowed))
        );
        let e = read(401, r#"{"message":"Key not found","code":"unauthorized"}"#);
        assert_eq!(e.outcome, Some(Outcome::Unauthorized));
    }

    #[test]
    fn account_states_are_forbidden() {
        for code in [
            "account_under_validation",
            "not_enough_credits",
            "permission_denied",
        ] {
            let e = read(403, &format!(r#"{{"code":"{code}","message":"x"}}"#));
            assert_eq!(e.outcome, Some(Outcome::Forbidden), "{code}");
        }
    }
}

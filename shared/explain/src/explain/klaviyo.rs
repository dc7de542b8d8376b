//! Reading Klaviyo answers (JSON:API, `application/vnd.api+json`).
//!
//! Errors are `{"errors":[{"id","status","code","title","detail","source":{"pointer"|
//! "parameter"},"links","meta"}]}`: the first error's `code` is the identifier
//! (`duplicate_profile`, `invalid`, `throttled`, `not_authenticated`, ...), `detail` the
//! message, and `source.pointer` (`/data/attributes/email`) the field. `id` is per request.
//! A throttled request says its wait in the detail ("Expected available in 56 seconds.")
//! besides `Retry-After` (<https://developers.klaviyo.com/en/docs/rate_limits_and_error_handling>).

use super::body::{contains_ci, Body};
use super::extracted::Extracted;
use super::field;
use crate::catalogue::{self, Cause};
use crate::verdict::Outcome;

/// What a Klaviyo answer says beyond its status.
pub(crate) fn extract(status: u16, body: &Body<'_>) -> Extracted {
    if (200..300).contains(&status) {
        return Extracted::default();
    }
    let code = body.str_at(&["errors", "0", "code"]);
    let detail = body.message_at(&["errors", "0", "detail"]);
    // A pointer names a part of the data sent; a `parameter` names a query parameter of
    // the URL leadrelay built, which is no field of the registration.
    let field = body.str_at(&["errors", "0", "source", "pointer"]);
    let parameter = body.str_at(&["errors", "0", "source", "parameter"]);
    let mut found = Extracted {
        message: detail
            .clone()
            .or_else(|| body.message_at(&["errors", "0", "title"])),
        ..Extracted::default()
    };
    let meaning = match code.as_deref() {
        Some("invalid") if field.is_none() && parameter.is_some() => {
            Some((Outcome::InvalidData, Cause::MalformedRequest))
        }
        Some(c) => by_code(c, field.as_deref(), detail.as_deref()),
        None => None,
    };
    found.decide(meaning);
    if let Some(d) = detail.as_deref() {
        match found.cause {
            Some(Cause::NotAnOption) => found.allowed = field::option_list(d),
            Some(Cause::InvalidFormat) => found.format = field::format_in(d),
            _ => {}
        }
    }
    found.field = field;
    found.code = code;
    found
}

fn by_code(code: &str, field: Option<&str>, detail: Option<&str>) -> Option<(Outcome, Cause)> {
    let meaning = match code {
        "duplicate_profile" => (Outcome::Duplicate, Cause::ContactExists),
        "invalid" => (Outcome::InvalidData, invalid_cause(field, detail)),
        "parse_error" | "unsupported_media_type" | "not_acceptable" => {
            (Outcome::InvalidData, Cause::MalformedRequest)
        }
        "throttled" => (Outcome::RateLimited, Cause::RateLimited),
        "not_authenticated" | "authentication_failed" => {
            (Outcome::Unauthorized, Cause::BadCredentials)
        }
        "permission_denied" => (Outcome::Forbidden, Cause::MissingPermission),
        "not_found" => (Outcome::NotFound, Cause::ResourceNotFound),
        "method_not_allowed" => (Outcome::NotFound, Cause::EndpointNotFound),
        "error" | "internal_server_error" => (Outcome::ServerError, Cause::ServerError),
        _ => return None,
    };
    Some(meaning)
}

/// Klaviyo says `invalid` for every refused value; the pointer and detail say which.
fn invalid_cause(field: Option<&str>, detail: Option<&str>) -> Cause {
    let about_email = field
        .and_then(|f| f.rsplit('/').next())
        .is_some_and(catalogue::is_email_field)
        || detail.is_some_and(|d| contains_ci(d, "email"));
    let said = |w: &str| detail.is_some_and(|d| contains_ci(d, w));
    if about_email && !said("required") {
        Cause::InvalidEmail
    } else if said("required") || said("must be provided") || said("missing") {
        Cause::RequiredField
    } else if said("too long") || said("at most") {
        Cause::ValueTooLong
    } else if said("is not a valid field") || said("unknown field") {
        Cause::UnknownField
    } else if said("must be one of") || said("not a valid choice") {
        Cause::NotAnOption
    } else if said("format") || said("phone number") || said("not a valid date") {
        Cause::InvalidFormat
    } else if field.is_some() {
        Cause::InvalidValue
    } else {
        Cause::InvalidData
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(status: u16, body: &str) -> Extracted {
        extract(status, &Body::parse(body.as_bytes()))
    }

    #[test]
    fn a_duplicate_profile_is_a_duplicate_without_a_field() {
        let e = read(
            409,
            r#"{"errors":[{"id":"bf03a1c2-7d44-4b7e-9a1e-2f6c5d8e9a01","status":409,"code":"duplicate_profile","title":"Conflict.","detail":"A profile already exists with one of these identifiers.","source":{"pointer":"/data/attributes"},"meta":{"duplicate_profile_id":"01HXYZ"}}]}"#,
        );
        assert_eq!(e.outcome, Some(Outcome::Duplicate));
        assert_eq!(e.code.as_deref(), Some("duplicate_profile"));
        assert_eq!(e.field.as_deref(), Some("/data/attributes"));
    }

    #[test]
    fn an_invalid_email_points_at_the_email_attribute() {
        let e = read(
            400,
            r#"{"errors":[{"id":"x","status":400,"code":"invalid","title":"Invalid input.","detail":"Invalid email address","source":{"pointer":"/data/attributes/email"}}]}"#,
        );
        assert_eq!(e.cause, Some(Cause::InvalidEmail));
        assert_eq!(e.field.as_deref(), Some("/data/attributes/email"));
    }

    #[test]
    fn an_invalid_phone_number_is_a_format_with_the_example_given() {
        let e = read(
            400,
            r#"{"errors":[{"status":400,"code":"invalid","title":"Invalid input.","detail":"Invalid phone number format (Example of a valid format: +12345678901)","source":{"pointer":"/data/attributes/phone_number"}}]}"#,
        );
        assert_eq!(e.cause, Some(Cause::InvalidFormat));
        assert_eq!(
            e.format.as_deref(),
            Some("a phone number in international format, such as +12345678901")
        );
    }

    #[test]
    fn throttled_is_a_rate_limit_and_keeps_the_detail_for_the_wait() {
        let e = read(
            429,
            r#"{"errors":[{"status":429,"code":"throttled","title":"Request was throttled.","detail":"Request was throttled. Expected available in 56 seconds."}]}"#,
        );
        assert_eq!(e.outcome, Some(Outcome::RateLimited));
        assert_eq!(
            e.message.as_deref(),
            Some("Request was throttled. Expected available in 56 seconds.")
        );
    }

    #[test]
    fn credentials_and_permissions_are_told_apart() {
        let e = read(
            401,
            r#"{"errors":[{"status":401,"code":"not_authenticated","detail":"Missing or invalid private key."}]}"#,
        );
        assert_eq!(e.outcome, Some(Outcome::Unauthorized));
        let e = read(
            403,
            r#"{"errors":[{"status":403,"code":"permission_denied","detail":"You do not have permission to perform this action."}]}"#,
        );
        assert_eq!(e.outcome, Some(Outcome::Forbidden));
    }
}

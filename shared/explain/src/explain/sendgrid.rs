//! Reading SendGrid Marketing Contacts answers.
//!
//! SendGrid's bodies carry no error identifier at all: `{"errors":[{"field","message",
//! "error_id"?}]}`, where `error_id` (when present) identifies the occurrence, not the
//! kind of error. So there is never a provider code, and the outcome comes from the
//! status, the field and the message. `PUT /v3/marketing/contacts` is asynchronous: it
//! answers 202 with a `job_id`, the contact appearing later
//! (<https://www.twilio.com/docs/sendgrid/api-reference/contacts/add-or-update-a-contact>).

use super::body::{contains_ci, Body};
use super::extracted::Extracted;
use crate::catalogue::{self, Cause};
use crate::verdict::Outcome;

/// What a SendGrid answer says beyond its status.
pub(crate) fn extract(status: u16, body: &Body<'_>) -> Extracted {
    let mut found = Extracted {
        no_code: true,
        ..Extracted::default()
    };
    if (200..300).contains(&status) {
        if body.str_at(&["job_id"]).is_some() {
            found.decide(Some((Outcome::Accepted, Cause::Accepted)));
        }
        return found;
    }
    let field = body.str_at(&["errors", "0", "field"]);
    let message = body.message_at(&["errors", "0", "message"]);
    if matches!(status, 400 | 404 | 413 | 422) {
        found.decide(refusal(field.as_deref(), message.as_deref()));
    }
    let mut field = field;
    if found.cause == Some(Cause::UnknownField) {
        let mut named = message.as_deref().map(custom_field_ids).unwrap_or_default();
        let container = field
            .as_deref()
            .is_none_or(|f| super::field::normalise(f).is_none());
        if container && !named.is_empty() {
            field = Some(named.remove(0));
            found.more_fields = named;
        }
    }
    found.field = field;
    found.message = message;
    found
}

/// The custom field ids a refusal lists: `invalid custom field ids supplied - partner,uid`
/// → `partner`, `uid`.
fn custom_field_ids(message: &str) -> Vec<String> {
    let Some((_, list)) = message.split_once("supplied - ") else {
        return Vec::new();
    };
    list.split(',')
        .map(str::trim)
        .filter(|id| !id.is_empty() && !id.contains(' '))
        .take(super::field::MAX_LISTED)
        .map(str::to_owned)
        .collect()
}

/// What a refused request's first error is about, from its field path and its words.
fn refusal(field: Option<&str>, message: Option<&str>) -> Option<(Outcome, Cause)> {
    let said = |w: &str| message.is_some_and(|m| contains_ci(m, w));
    let about_email = field
        .and_then(|f| f.rsplit(['.', ']']).next())
        .is_some_and(catalogue::is_email_field);
    let cause = if said("custom field") {
        Cause::UnknownField
    } else if said("does not exist") || said("not found") {
        return Some((Outcome::NotFound, Cause::ResourceNotFound));
    } else if said("invalid json") || said("unexpected end of json") {
        Cause::MalformedRequest
    } else if said("too long") || said("too large") || said("exceeds") {
        Cause::ValueTooLong
    } else if said("required") || said("missing") {
        Cause::RequiredField
    } else if about_email || (said("email") && (said("invalid") || said("valid"))) {
        Cause::InvalidEmail
    } else {
        return None;
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
    fn sendgrid_never_has_a_provider_code() {
        let e = read(
            400,
            r#"{"errors":[{"field":"contacts[0].email","message":"email address is invalid","error_id":"4e0c8b7a"}]}"#,
        );
        assert!(e.no_code);
        assert_eq!(e.code, None);
        assert_eq!(e.field.as_deref(), Some("contacts[0].email"));
        assert_eq!(e.cause, Some(Cause::InvalidEmail));
    }

    #[test]
    fn a_job_id_means_accepted_for_later() {
        let e = read(202, r#"{"job_id":"2387e363-4104-4225-8960-4a5758492351"}"#);
        assert_eq!(e.outcome, Some(Outcome::Accepted));
    }

    #[test]
    fn an_unknown_list_is_not_found() {
        let e = read(
            400,
            r#"{"errors":[{"field":"list_ids[0]","message":"list with id 'a1b2' does not exist"}]}"#,
        );
        assert_eq!(e.outcome, Some(Outcome::NotFound));
    }

    #[test]
    fn an_auth_error_is_left_to_the_status() {
        let e = read(
            401,
            r#"{"errors":[{"field":null,"message":"authorization required"}]}"#,
        );
        assert_eq!(e.outcome, None);
        assert_eq!(e.message.as_deref(), Some("authorization required"));
    }

    #[test]
    fn every_unknown_custom_field_id_is_named() {
        let e = read(
            400,
            r#"{"errors":[{"field":"contacts[0].custom_fields","message":"invalid custom field ids supplied - partner,emailVerified,uid"}]}"#,
        );
        assert_eq!(e.cause, Some(Cause::UnknownField));
        assert_eq!(e.field.as_deref(), Some("partner"));
        assert_eq!(e.more_fields, ["emailVerified", "uid"]);
    }
}

//! Reading Mailchimp Marketing API v3 answers.
//!
//! Errors are problem+json: `type` (a documentation link), `title` (the error's name, and
//! so its code), `status`, `detail`, `instance` (a per-request id) and, for validation,
//! `errors[{field, message}]`. One status carries several meanings: a 400 is a duplicate
//! ("Member Exists"), a compliance state, a forgotten contact, a fake address or a merge
//! field problem, and only the title and detail tell them apart
//! (<https://mailchimp.com/developer/marketing/docs/errors/>). The batch-subscribe answer
//! (`POST /lists/{id}`) is a 200 whose `errors[]` report the members that were refused.
//!
//! `pending` means two things: a batch operation (`POST /batches`) that is `pending`,
//! `preprocessing` or `started` was queued and is `accepted`; a member whose `status` is
//! `pending` was stored but waits for the person to confirm by the link in Mailchimp's
//! opt-in email (double opt-in).

use super::body::{contains_ci, Body};
use super::extracted::Extracted;
use super::field;
use crate::catalogue::Cause;
use crate::verdict::Outcome;

/// What a Mailchimp answer says beyond its status.
pub(crate) fn extract(status: u16, body: &Body<'_>) -> Extracted {
    if (200..300).contains(&status) {
        return batch_failure(body)
            .or_else(|| pending(body))
            .unwrap_or_default();
    }
    let title = body.str_at(&["title"]);
    let detail = body.message_at(&["detail"]);
    let error_field = body.str_at(&["errors", "0", "field"]);
    let error_message = body.message_at(&["errors", "0", "message"]);

    let mut found = Extracted {
        message: match (&detail, &error_field, &error_message) {
            (Some(d), Some(f), Some(m)) => {
                let name = field::normalise(f).unwrap_or_else(|| f.clone());
                Some(format!("{d} {name}: {m}"))
            }
            (Some(d), _, _) => Some(d.clone()),
            (None, _, Some(m)) => Some(m.clone()),
            (None, _, None) => title.clone(),
        },
        field: error_field,
        ..Extracted::default()
    };
    found.more_fields = other_error_fields(body);
    if found.field.is_none() {
        let mut named = error_message
            .as_deref()
            .or(detail.as_deref())
            .map(field::required_list)
            .unwrap_or_default();
        if !named.is_empty() {
            found.field = Some(named.remove(0));
            found.more_fields = named;
        }
    }
    let meaning = title
        .as_deref()
        .and_then(|t| by_title(t, detail.as_deref(), error_message.as_deref()))
        .or_else(|| detail.as_deref().and_then(by_words));
    if matches!(
        meaning,
        Some((_, Cause::EmailBlocked | Cause::InvalidEmail))
    ) {
        found.field.get_or_insert_with(|| "email".to_owned());
    }
    found.decide(meaning);
    found.code = title;
    found
}

/// Mailchimp writes its titles with spaces ("Wrong Datacenter") and its glossary without
/// ("WrongDatacenter"); both compare equal after dropping everything but letters.
fn squash(title: &str) -> String {
    title
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

fn by_title(
    title: &str,
    detail: Option<&str>,
    error_message: Option<&str>,
) -> Option<(Outcome, Cause)> {
    let meaning = match squash(title).as_str() {
        "memberexists" => (Outcome::Duplicate, Cause::ContactExists),
        "memberincompliancestate" => (Outcome::Suppressed, Cause::Unsubscribed),
        "forgottenemailnotsubscribed" => (Outcome::Suppressed, Cause::Forgotten),
        "invalidresource" | "badrequest" => {
            return detail
                .and_then(by_words)
                .or_else(|| error_message.map(merge_field_problem))
                .or(Some((Outcome::InvalidData, Cause::InvalidData)));
        }
        "invalidaction"
        | "jsonparseerror"
        | "resourcenestingtoodeep"
        | "invalidmethodoverride"
        | "requestedfieldsinvalid" => (Outcome::InvalidData, Cause::MalformedRequest),
        "apikeymissing" | "apikeyinvalid" => (Outcome::Unauthorized, Cause::BadCredentials),
        "forbidden" => (Outcome::Forbidden, Cause::MissingPermission),
        "userdisabled" => (Outcome::Forbidden, Cause::AccountDisabled),
        "wrongdatacenter" => (Outcome::Forbidden, Cause::WrongDatacenter),
        // A 503 "Compliance Related": the account is under compliance review. Retrying
        // will not help until someone at the account resolves it, so this is not a
        // server error but an account that refuses data.
        "compliancerelated" => (Outcome::Forbidden, Cause::AccountDisabled),
        "resourcenotfound" => (Outcome::NotFound, Cause::ResourceNotFound),
        "methodnotallowed" => (Outcome::NotFound, Cause::EndpointNotFound),
        "toomanyrequests" => (Outcome::RateLimited, Cause::RateLimited),
        "internalservererror" => (Outcome::ServerError, Cause::ServerError),
        _ => return detail.and_then(by_words),
    };
    Some(meaning)
}

/// What the words of a detail (or a batch error) mean, where the title does not say.
fn by_words(text: &str) -> Option<(Outcome, Cause)> {
    let has = |w: &str| contains_ci(text, w);
    let meaning = if has("already a list member") || has("already a member") {
        (Outcome::Duplicate, Cause::ContactExists)
    } else if has("compliance state") {
        (Outcome::Suppressed, Cause::Unsubscribed)
    } else if has("permanently deleted") || has("forgotten") {
        (Outcome::Suppressed, Cause::Forgotten)
    } else if has("looks fake or invalid") {
        (Outcome::InvalidData, Cause::EmailBlocked)
    } else if has("signed up to a lot of lists") {
        (Outcome::RateLimited, Cause::SignupsThrottled)
    } else if has("simultaneous connections") {
        (Outcome::RateLimited, Cause::RateLimited)
    } else if has("valid email") || has("email address must") || has("single @") {
        (Outcome::InvalidData, Cause::InvalidEmail)
    } else if has("required fields were not provided") {
        (Outcome::InvalidData, Cause::RequiredField)
    } else {
        return None;
    };
    Some(meaning)
}

/// The message Mailchimp gives for one merge field (`errors[].message`).
fn merge_field_problem(message: &str) -> (Outcome, Cause) {
    let has = |w: &str| contains_ci(message, w);
    if has("enter a value") || has("should not be blank") || has("required") {
        (Outcome::InvalidData, Cause::RequiredField)
    } else if has("too long") {
        (Outcome::InvalidData, Cause::ValueTooLong)
    } else if has("enter the date")
        || has("valid date")
        || has("complete address")
        || has("phone")
        || has("schemas described")
    {
        (Outcome::InvalidData, Cause::InvalidFormat)
    } else {
        (Outcome::InvalidData, Cause::InvalidValue)
    }
}

/// The merge fields named by the errors after the first (`errors[1..].field`).
fn other_error_fields(body: &Body<'_>) -> Vec<String> {
    let Some(errors) = body
        .json()
        .and_then(|j| j.get("errors"))
        .and_then(serde_json::Value::as_array)
    else {
        return Vec::new();
    };
    errors
        .iter()
        .skip(1)
        .filter_map(|e| e.get("field").and_then(serde_json::Value::as_str))
        .filter(|f| !f.is_empty())
        .take(field::MAX_LISTED)
        .map(str::to_owned)
        .collect()
}

/// A 200 from batch subscribe that created and updated nothing but lists errors.
fn batch_failure(body: &Body<'_>) -> Option<Extracted> {
    let json = body.json()?;
    let error_count = json
        .get("error_count")
        .and_then(serde_json::Value::as_u64)?;
    let taken = ["total_created", "total_updated"]
        .iter()
        .filter_map(|k| json.get(k).and_then(serde_json::Value::as_u64))
        .sum::<u64>();
    if error_count == 0 || taken > 0 {
        return None;
    }
    let message = body.str_at(&["errors", "0", "error"]);
    let mut found = Extracted {
        code: body.str_at(&["errors", "0", "error_code"]),
        field: body.str_at(&["errors", "0", "field"]),
        message: message.clone(),
        ..Extracted::default()
    };
    found.decide(Some(
        message
            .as_deref()
            .and_then(by_words)
            .unwrap_or((Outcome::Unexpected, Cause::FailedDespiteSuccessStatus)),
    ));
    Some(found)
}

/// A 2xx whose `pending` says what happened: a batch operation queued, or a member (or
/// the one new member of a batch subscribe) waiting to confirm the subscription.
fn pending(body: &Body<'_>) -> Option<Extracted> {
    let json = body.json()?;
    fn status_of(v: &serde_json::Value) -> Option<&str> {
        v.get("status").and_then(serde_json::Value::as_str)
    }
    let meaning = if json.get("email_address").is_some() {
        (status_of(json)? == "pending").then_some((Outcome::Delivered, Cause::AwaitingConfirmation))
    } else if json.get("total_operations").is_some() || json.get("submitted_at").is_some() {
        matches!(status_of(json)?, "pending" | "preprocessing" | "started")
            .then_some((Outcome::Accepted, Cause::Accepted))
    } else {
        let new_members = json.get("new_members")?.as_array()?;
        (!new_members.is_empty() && new_members.iter().all(|m| status_of(m) == Some("pending")))
            .then_some((Outcome::Delivered, Cause::AwaitingConfirmation))
    }?;
    let mut found = Extracted::default();
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
    fn member_exists_is_a_duplicate() {
        let e = read(
            400,
            r#"{"type":"https://mailchimp.com/developer/marketing/docs/errors/","title":"Member Exists","status":400,"detail":"lena@example.com is already a list member. Use PUT to insert or update list members.","instance":"5c1e9d02-7a51-4bd4-a2a8-3d0e1f7b9c11"}"#,
        );
        assert_eq!(e.outcome, Some(Outcome::Duplicate));
        assert_eq!(e.code.as_deref(), Some("Member Exists"));
    }

    #[test]
    fn a_compliance_state_and_a_forgotten_contact_are_suppressed() {
        let e = read(
            400,
            r#"{"title":"Member In Compliance State","status":400,"detail":"x@example.com is in a compliance state due to unsubscribe, bounce, or compliance review and cannot be subscribed."}"#,
        );
        assert_eq!(
            (e.outcome, e.cause),
            (Some(Outcome::Suppressed), Some(Cause::Unsubscribed))
        );
        let e = read(
            400,
            r#"{"title":"Forgotten Email Not Subscribed","status":400,"detail":"x@example.com was permanently deleted and cannot be re-imported."}"#,
        );
        assert_eq!(
            (e.outcome, e.cause),
            (Some(Outcome::Suppressed), Some(Cause::Forgotten))
        );
    }

    #[test]
    fn a_fake_looking_address_is_invalid_data_about_the_email() {
        let e = read(
            400,
            r#"{"title":"Invalid Resource","status":400,"detail":"test@test.com looks fake or invalid, please enter a real email address."}"#,
        );
        assert_eq!(e.outcome, Some(Outcome::InvalidData));
        assert_eq!(e.cause, Some(Cause::EmailBlocked));
        assert_eq!(e.field.as_deref(), Some("email"));
    }

    #[test]
    fn a_merge_field_error_names_the_merge_field() {
        let e = read(
            400,
            r#"{"title":"Invalid Resource","status":400,"detail":"Your merge fields were invalid.","errors":[{"field":"merge_fields.FNAME","message":"Please enter a value"}]}"#,
        );
        assert_eq!(e.field.as_deref(), Some("merge_fields.FNAME"));
        assert_eq!(e.cause, Some(Cause::RequiredField));
        assert_eq!(
            e.message.as_deref(),
            Some("Your merge fields were invalid. FNAME: Please enter a value")
        );
    }

    #[test]
    fn wrong_datacenter_is_forbidden_in_either_spelling() {
        for title in ["Wrong Datacenter", "WrongDatacenter"] {
            let e = read(403, &format!(r#"{{"title":"{title}","status":403}}"#));
            assert_eq!(e.outcome, Some(Outcome::Forbidden), "{title}");
            assert_eq!(e.cause, Some(Cause::WrongDatacenter), "{title}");
        }
    }

    #[test]
    fn a_compliance_review_503_is_not_retried() {
        let e = read(
            503,
            r#"{"title":"Compliance Related","status":503,"detail":"This account is currently under compliance review."}"#,
        );
        assert_eq!(e.outcome, Some(Outcome::Forbidden));
        assert!(!Outcome::Forbidden.retryable());
    }

    #[test]
    fn too_many_connections_is_a_rate_limit() {
        let e = read(
            429,
            r#"{"title":"Too Many Requests","status":429,"detail":"You have exceeded the limit of 10 simultaneous connections."}"#,
        );
        assert_eq!(e.outcome, Some(Outcome::RateLimited));
    }

    #[test]
    fn a_cut_off_problem_body_still_yields_its_title() {
        let e = read(
            400,
            r#"{"type":"https://mailchimp.com/developer/marketing/docs/errors/","title":"Member Exists","status":400,"detail":"lena@example.com is alr"#,
        );
        assert_eq!(e.code.as_deref(), Some("Member Exists"));
        assert_eq!(e.outcome, Some(Outcome::Duplicate));
    }

    #[test]
    fn pending_is_a_queued_batch_or_a_person_yet_to_confirm() {
        let member = read(
            200,
            r#"{"id":"85e8","email_address":"lena@example.com","status":"pending","merge_fields":{}}"#,
        );
        assert_eq!(
            (member.outcome, member.cause),
            (Some(Outcome::Delivered), Some(Cause::AwaitingConfirmation))
        );
        let batch = read(
            200,
            r#"{"id":"9b2c","status":"pending","total_operations":0,"submitted_at":"2026-05-04T09:12:31+00:00"}"#,
        );
        assert_eq!(
            (batch.outcome, batch.cause),
            (Some(Outcome::Accepted), Some(Cause::Accepted))
        );
        let finished = read(
            200,
            r#"{"id":"9b2c","status":"finished","total_operations":1,"finished_operations":1}"#,
        );
        assert_eq!(finished, Extracted::default());
        let subscribed = read(
            200,
            r#"{"id":"85e8","email_address":"lena@example.com","status":"subscribed"}"#,
        );
        assert_eq!(subscribed, Extracted::default());
        let batch_subscribe = read(
            200,
            r#"{"new_members":[{"id":"a","status":"pending"}],"errors":[],"total_created":1,"total_updated":0,"error_count":0}"#,
        );
        assert_eq!(batch_subscribe.cause, Some(Cause::AwaitingConfirmation));
    }

    #[test]
    fn a_batch_200_that_took_nobody_reports_the_first_error() {
        let e = read(
            200,
            r#"{"new_members":[],"updated_members":[],"errors":[{"email_address":"x@example.com","error":"x@example.com is already a list member.","error_code":"ERROR_CONTACT_EXISTS","field":"email_address","field_message":""}],"total_created":0,"total_updated":0,"error_count":1}"#,
        );
        assert_eq!(e.outcome, Some(Outcome::Duplicate));
        assert_eq!(e.code.as_deref(), Some("ERROR_CONTACT_EXISTS"));
        let ok = read(
            200,
            r#"{"new_members":[{"id":"a"}],"errors":[],"total_created":1,"total_updated":0,"error_count":0}"#,
        );
        assert_eq!(ok, Extracted::default());
    }
}

//! Reading HubSpot CRM answers: the v3 objects API and the legacy v1 contacts API.
//!
//! v3 errors carry `status`, `message`, `correlationId` (per request), `category`
//! (`CONFLICT`, `VALIDATION_ERROR`, `EXPIRED_AUTHENTICATION`, `MISSING_SCOPES`, ...) and
//! sometimes `errors[]`. A validation error nests a JSON list inside `message`
//! (`Property values were not valid: [{"isValid":false,"error":"INVALID_EMAIL",
//! "name":"email",...}]`), which names the property and the precise problem. Legacy v1
//! answers put the code in `error` and the property problems in `validationResults[]`.
//! Rate limits answer 429 with `errorType: RATE_LIMIT` and a `policyName` (`DAILY`,
//! `SECONDLY`, `TEN_SECONDLY_ROLLING`); 423 (a locked record) and 477 (portal migration)
//! are transient. Batch endpoints answer 207 Multi-Status with `errors[]` beside
//! `results[]` (<https://developers.hubspot.com/docs/api/error-handling>).

use super::body::{contains_ci, first_at, text_at, Body};
use super::extracted::Extracted;
use super::field;
use crate::catalogue::Cause;
use crate::verdict::Outcome;
use serde_json::Value;

/// What a HubSpot CRM answer says beyond its status.
pub(crate) fn extract(status: u16, body: &Body<'_>) -> Extracted {
    if (200..300).contains(&status) {
        return batch_failure(body).unwrap_or_default();
    }
    let mut found = read_error(status, body);
    if matches!(status, 423 | 477) {
        found.decide(Some((Outcome::Conflict, Cause::Locked)));
    }
    found
}

/// One error object: the root of an error answer, or an entry of a batch's `errors[]`.
fn read_error(status: u16, body: &Body<'_>) -> Extracted {
    let category = body.str_at(&["category"]);
    let message = body.message_at(&["message"]);
    let error_type = body.str_at(&["errorType"]);
    let policy = body.str_at(&["policyName"]);
    let legacy = body.str_at(&["error"]);

    let nested = message.as_deref().and_then(nested_problems);
    let legacy_results = body
        .json()
        .and_then(|j| j.get("validationResults"))
        .and_then(Value::as_array);
    let (problem, more_fields) = match nested {
        Some(found) => found,
        None => match legacy_results {
            Some(items) => first_and_names(items),
            None => (
                body.json()
                    .and_then(|j| first_at(j, &["validationResults"]))
                    .map(Problem::from_value),
                Vec::new(),
            ),
        },
    };

    let mut found = Extracted {
        message: problem
            .as_ref()
            .and_then(|p| p.message.clone())
            .or_else(|| message.as_deref().map(before_nested_json)),
        field: problem.as_ref().and_then(|p| p.name.clone()),
        more_fields,
        ..Extracted::default()
    };

    if error_type.as_deref() == Some("RATE_LIMIT") || status == 429 {
        let daily = policy.as_deref() == Some("DAILY")
            || message
                .as_deref()
                .is_some_and(|m| contains_ci(m, "daily limit"));
        let cause = if daily {
            Cause::QuotaExhausted
        } else {
            Cause::RateLimited
        };
        found.decide(Some((Outcome::RateLimited, cause)));
        found.code = error_type.or(policy);
        return found;
    }

    let problem_code = problem.as_ref().and_then(|p| p.error.clone());
    // A nested list that did not parse (cut off) still says this was a validation error.
    let unreadable_list =
        problem.is_none() && message.as_deref().is_some_and(|m| m.contains(": [{"));
    let meaning = problem_code
        .as_deref()
        .and_then(by_problem)
        .or_else(|| unreadable_list.then_some((Outcome::InvalidData, Cause::InvalidData)))
        .or_else(|| legacy.as_deref().and_then(by_problem))
        .or_else(|| {
            category
                .as_deref()
                .and_then(|c| by_category(c, message.as_deref()))
        });
    found.decide(meaning);
    if let (Some(p), Some(code)) = (&problem, problem_code.as_deref()) {
        let words = p.message.as_deref().unwrap_or_default();
        match found.cause {
            Some(Cause::NotAnOption) => found.allowed = field::option_list(words),
            Some(Cause::InvalidFormat) => {
                found.format = field::format_in(words).or_else(|| expected_format(code));
            }
            _ => {}
        }
    }
    if found.cause == Some(Cause::MissingPermission) {
        found.permission = required_scope(body);
    }
    found.code = problem_code.or(legacy).or(category);
    found
}

/// The format HubSpot documents for a property type whose value it refused.
fn expected_format(code: &str) -> Option<String> {
    let words = match code {
        "INVALID_INTEGER" | "INVALID_LONG" => "a whole number, written with digits only",
        "INVALID_DATE" => field::MIDNIGHT_DATE,
        "INVALID_DATETIME" => "a date and time, such as 2025-03-31T14:30:00Z",
        "INVALID_BOOLEAN" => "true or false",
        "INVALID_PHONE_NUMBER" => field::PHONE,
        _ => return None,
    };
    Some(words.to_owned())
}

/// The first scope a `MISSING_SCOPES` answer lists as required
/// (`errors[].context.requiredScopes`, or `requiredGranularScopes`).
fn required_scope(body: &Body<'_>) -> Option<String> {
    let context = body
        .json()?
        .get("errors")?
        .as_array()?
        .first()?
        .get("context")?;
    ["requiredScopes", "requiredGranularScopes"]
        .iter()
        .find_map(|k| context.get(*k)?.as_array()?.first()?.as_str())
        .map(str::to_owned)
}

/// A property problem, from the list nested in `message` or from `validationResults[]`.
struct Problem {
    error: Option<String>,
    name: Option<String>,
    message: Option<String>,
}

impl Problem {
    fn from_value(v: &Value) -> Problem {
        Problem {
            error: text_at(v, &["error"]),
            name: text_at(v, &["name"]),
            message: text_at(v, &["message"]).or_else(|| text_at(v, &["localizedErrorMessage"])),
        }
    }
}

/// The first problem of the JSON list HubSpot nests in a validation message, and the
/// names of the properties of the others.
fn nested_problems(message: &str) -> Option<(Option<Problem>, Vec<String>)> {
    let start = message.find("[{")?;
    let list: Value = serde_json::from_str(&message[start..]).ok()?;
    Some(first_and_names(list.as_array()?))
}

/// The first problem of a list, and the property names of the rest (every property named
/// once, in order, at most [`field::MAX_LISTED`]).
fn first_and_names(items: &[Value]) -> (Option<Problem>, Vec<String>) {
    let first = items.first().map(Problem::from_value);
    let mut names: Vec<String> = Vec::new();
    for item in items.iter().skip(1) {
        if names.len() >= field::MAX_LISTED {
            break;
        }
        if let Some(name) = text_at(item, &["name"]) {
            if !names.contains(&name) {
                names.push(name);
            }
        }
    }
    (first, names)
}

/// The words of a message before a nested JSON list, so raw JSON is never shown.
fn before_nested_json(message: &str) -> String {
    match message.find(": [") {
        Some(cut) => message[..cut].trim().to_owned(),
        None => message.to_owned(),
    }
}

/// The property problem codes of validation errors (v3 nested `error`, v1 `error`).
fn by_problem(code: &str) -> Option<(Outcome, Cause)> {
    let meaning = match code {
        "CONTACT_EXISTS" | "OBJECT_ALREADY_EXISTS" => (Outcome::Duplicate, Cause::ContactExists),
        "INVALID_EMAIL" => (Outcome::InvalidData, Cause::InvalidEmail),
        "INVALID_OPTION" => (Outcome::InvalidData, Cause::NotAnOption),
        "INVALID_INTEGER"
        | "INVALID_LONG"
        | "INVALID_DATE"
        | "INVALID_DATETIME"
        | "INVALID_BOOLEAN"
        | "INVALID_PHONE_NUMBER" => (Outcome::InvalidData, Cause::InvalidFormat),
        "READ_ONLY_VALUE" => (Outcome::InvalidData, Cause::InvalidValue),
        "PROPERTY_DOESNT_EXIST" | "PROPERTY_NOT_FOUND" => {
            (Outcome::InvalidData, Cause::UnknownField)
        }
        "REQUIRED_PROPERTY" | "MISSING_REQUIRED_PROPERTY" => {
            (Outcome::InvalidData, Cause::RequiredField)
        }
        "MAX_LENGTH_EXCEEDED" | "INVALID_LENGTH" => (Outcome::InvalidData, Cause::ValueTooLong),
        _ => return None,
    };
    Some(meaning)
}

fn by_category(category: &str, message: Option<&str>) -> Option<(Outcome, Cause)> {
    let meaning = match category {
        "CONFLICT" => (Outcome::Duplicate, Cause::ContactExists),
        "VALIDATION_ERROR" => match message {
            Some(m) if contains_ci(m, "invalid input json") => {
                (Outcome::InvalidData, Cause::MalformedRequest)
            }
            _ => (Outcome::InvalidData, Cause::InvalidData),
        },
        "EXPIRED_AUTHENTICATION" => (Outcome::Unauthorized, Cause::ExpiredCredentials),
        "INVALID_AUTHENTICATION" => (Outcome::Unauthorized, Cause::BadCredentials),
        "MISSING_SCOPES" => (Outcome::Forbidden, Cause::MissingPermission),
        "OBJECT_NOT_FOUND" | "RESOURCE_NOT_FOUND" => (Outcome::NotFound, Cause::ResourceNotFound),
        "RATE_LIMITS" => (Outcome::RateLimited, Cause::RateLimited),
        "LOCKED" => (Outcome::Conflict, Cause::Locked),
        _ => return None,
    };
    Some(meaning)
}

/// A 207 (or other 2xx) batch answer whose `errors[]` report failures and whose
/// `results[]` hold nothing: the first error decides, as it would on its own.
fn batch_failure(body: &Body<'_>) -> Option<Extracted> {
    let json = body.json()?;
    let first_error = json.get("errors")?.as_array()?.first()?;
    let nothing_taken = json
        .get("results")
        .and_then(Value::as_array)
        .is_none_or(Vec::is_empty);
    if !nothing_taken {
        return None;
    }
    let error_status = first_error
        .get("status")
        .and_then(Value::as_u64)
        .and_then(|s| u16::try_from(s).ok())
        .unwrap_or(400);
    let mut found = read_error(error_status, &Body::Json(first_error.clone()));
    if found.outcome.is_none() {
        found.decide(Some((
            Outcome::Unexpected,
            Cause::FailedDespiteSuccessStatus,
        )));
    }
    Some(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(status: u16, body: &str) -> Extracted {
        extract(status, &Body::parse(body.as_bytes()))
    }

    #[test]
    fn a_conflict_is_a_duplicate() {
        let e = read(
            409,
            r#"{"status":"error","message":"Contact already exists. Existing ID: 37765128953","correlationId":"1b7c2f0e-9d3a-4c8e-b1f2-6a5d4e3c2b1a","category":"CONFLICT"}"#,
        );
        assert_eq!(e.outcome, Some(Outcome::Duplicate));
        assert_eq!(e.code.as_deref(), Some("CONFLICT"));
    }

    #[test]
    fn a_validation_error_reads_the_nested_problem() {
        let e = read(
            400,
            r#"{"status":"error","message":"Property values were not valid: [{\"isValid\":false,\"message\":\"Email address lena@example is invalid\",\"error\":\"INVALID_EMAIL\",\"name\":\"email\"}]","correlationId":"c0ffee00-1111-2222-3333-444455556666","category":"VALIDATION_ERROR"}"#,
        );
        assert_eq!(e.code.as_deref(), Some("INVALID_EMAIL"));
        assert_eq!(e.field.as_deref(), Some("email"));
        assert_eq!(e.cause, Some(Cause::InvalidEmail));
        assert_eq!(
            e.message.as_deref(),
            Some("Email address lena@example is invalid")
        );
    }

    #[test]
    fn a_validation_message_whose_list_is_cut_shows_no_raw_json() {
        let e = read(
            400,
            r#"{"status":"error","message":"Property values were not valid: [{\"isValid\":false,\"mess","category":"VALIDATION_ERROR"}"#,
        );
        assert_eq!(e.message.as_deref(), Some("Property values were not valid"));
        assert_eq!(e.code.as_deref(), Some("VALIDATION_ERROR"));
    }

    #[test]
    fn the_daily_limit_is_a_used_up_quota() {
        let e = read(
            429,
            r#"{"status":"error","message":"You have reached your daily limit.","errorType":"RATE_LIMIT","correlationId":"x","policyName":"DAILY"}"#,
        );
        assert_eq!(
            (e.outcome, e.cause),
            (Some(Outcome::RateLimited), Some(Cause::QuotaExhausted))
        );
        assert_eq!(e.code.as_deref(), Some("RATE_LIMIT"));
        let e = read(
            429,
            r#"{"status":"error","message":"You have reached your ten_secondly_rolling limit.","errorType":"RATE_LIMIT","policyName":"TEN_SECONDLY_ROLLING"}"#,
        );
        assert_eq!(e.cause, Some(Cause::RateLimited));
    }

    #[test]
    fn locked_and_migrating_portals_are_transient_conflicts() {
        for status in [423, 477] {
            assert_eq!(
                read(status, "").outcome,
                Some(Outcome::Conflict),
                "{status}"
            );
        }
    }

    #[test]
    fn expired_tokens_and_missing_scopes_are_told_apart() {
        let e = read(
            401,
            r#"{"status":"error","message":"The OAuth token used to make this call expired 2 hour(s) ago.","category":"EXPIRED_AUTHENTICATION"}"#,
        );
        assert_eq!(e.cause, Some(Cause::ExpiredCredentials));
        let e = read(
            403,
            r#"{"status":"error","message":"This app hasn't been granted all required scopes to make this call.","category":"MISSING_SCOPES"}"#,
        );
        assert_eq!(
            (e.outcome, e.cause),
            (Some(Outcome::Forbidden), Some(Cause::MissingPermission))
        );
    }

    #[test]
    fn legacy_v1_answers_use_error_and_validation_results() {
        let e = read(
            400,
            r#"{"status":"error","message":"Property values were not valid","validationResults":[{"isValid":false,"message":"Lead Status: Maybe was not one of the allowed options","error":"INVALID_OPTION","name":"hs_lead_status"}]}"#,
        );
        assert_eq!(e.code.as_deref(), Some("INVALID_OPTION"));
        assert_eq!(e.field.as_deref(), Some("hs_lead_status"));
        assert_eq!(e.cause, Some(Cause::NotAnOption));
        let e = read(
            409,
            r#"{"status":"error","message":"Contact already exists","error":"CONTACT_EXISTS","identityProfile":{"vid":3234574}}"#,
        );
        assert_eq!(e.code.as_deref(), Some("CONTACT_EXISTS"));
        assert_eq!(e.outcome, Some(Outcome::Duplicate));
    }

    #[test]
    fn a_multi_status_batch_with_only_errors_is_a_failure() {
        let e = read(
            207,
            r#"{"status":"COMPLETE","results":[],"numErrors":1,"errors":[{"status":"error","category":"VALIDATION_ERROR","message":"Property values were not valid: [{\"isValid\":false,\"message\":\"x is invalid\",\"error\":\"INVALID_EMAIL\",\"name\":\"email\"}]"}]}"#,
        );
        assert_eq!(e.outcome, Some(Outcome::InvalidData));
        assert_eq!(e.code.as_deref(), Some("INVALID_EMAIL"));
        let ok = read(
            200,
            r#"{"status":"COMPLETE","results":[{"id":"1"}],"errors":[]}"#,
        );
        assert_eq!(ok.outcome, None);
    }
}

//! Reading Salesforce REST API answers.
//!
//! Errors are a JSON array, `[{"message","errorCode","fields":[...]}]`; the first entry's
//! `errorCode` is the identifier and `fields` names the fields as Salesforce spells them
//! (`Email`, `LastName`). The daily API allowance is refused with 403
//! `REQUEST_LIMIT_EXCEEDED`, a rate limit behind a permission status. An upsert by
//! external id that matches several records answers 300 with the list of their URLs.
//! sObject Collections answer 200 with `[{"success":false,"errors":[{"statusCode",...}]}]`.
//! OAuth token errors are `{"error","error_description"}`
//! (<https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/errorcodes.htm>).

use super::body::{contains_ci, Body};
use super::extracted::Extracted;
use crate::catalogue::Cause;
use crate::verdict::Outcome;
use serde_json::Value;

/// What a Salesforce answer says beyond its status.
pub(crate) fn extract(status: u16, body: &Body<'_>) -> Extracted {
    if (200..300).contains(&status) {
        return collection_failure(body).unwrap_or_default();
    }
    if status == 300 {
        return multiple_matches();
    }
    if let Some(oauth) = body
        .str_at(&["error"])
        .filter(|_| body.str_at(&["errorCode"]).is_none())
    {
        return oauth_error(oauth, body.message_at(&["error_description"]));
    }
    let code = body
        .str_at(&["0", "errorCode"])
        .or_else(|| body.str_at(&["errorCode"]));
    let message = body
        .message_at(&["0", "message"])
        .or_else(|| body.message_at(&["message"]));
    let mut found = Extracted {
        field: body.str_at(&["0", "fields", "0"]),
        more_fields: body
            .json()
            .and_then(|j| j.get(0))
            .map(other_fields)
            .unwrap_or_default(),
        ..Extracted::default()
    };
    found.decide(code.as_deref().and_then(|c| by_code(c, message.as_deref())));
    if found.field.is_none() && found.cause == Some(Cause::UnknownField) {
        found.field = message.as_deref().and_then(no_such_column);
    }
    found.message = message;
    found.code = code;
    found
}

fn by_code(code: &str, message: Option<&str>) -> Option<(Outcome, Cause)> {
    let meaning = match code {
        "DUPLICATES_DETECTED" | "DUPLICATE_VALUE" => (Outcome::Duplicate, Cause::ContactExists),
        "DUPLICATE_EXTERNAL_ID" => (Outcome::Unexpected, Cause::AmbiguousMatch),
        // TotalRequests is the rolling 24-hour allowance; other limits (concurrent long
        // requests) clear within seconds.
        "REQUEST_LIMIT_EXCEEDED" => {
            let daily = message.is_some_and(|m| contains_ci(m, "TotalRequests"));
            let cause = if daily {
                Cause::QuotaExhausted
            } else {
                Cause::RateLimited
            };
            (Outcome::RateLimited, cause)
        }
        "INVALID_SESSION_ID" => (Outcome::Unauthorized, Cause::ExpiredCredentials),
        "INVALID_AUTH_HEADER" => (Outcome::Unauthorized, Cause::BadCredentials),
        "INVALID_EMAIL_ADDRESS" => (Outcome::InvalidData, Cause::InvalidEmail),
        "REQUIRED_FIELD_MISSING" => (Outcome::InvalidData, Cause::RequiredField),
        "STRING_TOO_LONG" => (Outcome::InvalidData, Cause::ValueTooLong),
        "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST" => (Outcome::InvalidData, Cause::NotAnOption),
        "INVALID_TYPE_ON_FIELD_IN_RECORD" => (Outcome::InvalidData, Cause::InvalidFormat),
        "FIELD_INTEGRITY_EXCEPTION" | "MALFORMED_ID" | "NUMBER_OUTSIDE_VALID_RANGE" => {
            (Outcome::InvalidData, Cause::InvalidValue)
        }
        "INVALID_FIELD" => (Outcome::InvalidData, Cause::UnknownField),
        "FIELD_CUSTOM_VALIDATION_EXCEPTION" | "CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY" => {
            (Outcome::InvalidData, Cause::BusinessRule)
        }
        "JSON_PARSER_ERROR" | "MALFORMED_QUERY" | "INVALID_CONTENT_TYPE" => {
            (Outcome::InvalidData, Cause::MalformedRequest)
        }
        "INSUFFICIENT_ACCESS_OR_READONLY"
        | "INSUFFICIENT_ACCESS"
        | "INSUFFICIENT_ACCESS_ON_CROSS_REFERENCE_ENTITY"
        | "INVALID_FIELD_FOR_INSERT_UPDATE"
        | "API_DISABLED_FOR_ORG"
        | "FUNCTIONALITY_NOT_ENABLED" => (Outcome::Forbidden, Cause::MissingPermission),
        // Data storage is full: a "limit exceeded" that no wait will clear.
        "STORAGE_LIMIT_EXCEEDED" => (Outcome::Forbidden, Cause::PlanLimit),
        "NOT_FOUND" | "ENTITY_IS_DELETED" | "INVALID_CROSS_REFERENCE_KEY" | "INVALID_TYPE" => {
            (Outcome::NotFound, Cause::ResourceNotFound)
        }
        "UNABLE_TO_LOCK_ROW" => (Outcome::Conflict, Cause::Locked),
        "SERVER_UNAVAILABLE" => (Outcome::ServerError, Cause::Unavailable),
        "UNKNOWN_EXCEPTION" => (Outcome::ServerError, Cause::ServerError),
        _ => return None,
    };
    Some(meaning)
}

/// The fields an error names after its first (`"fields": ["LastName", "Company"]` →
/// `Company`).
fn other_fields(error: &Value) -> Vec<String> {
    error
        .get("fields")
        .and_then(Value::as_array)
        .map(|fields| {
            fields
                .iter()
                .skip(1)
                .filter_map(Value::as_str)
                .take(super::field::MAX_LISTED)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// `No such column 'Favourite__c' on sobject of type Lead` → `Favourite__c`.
fn no_such_column(message: &str) -> Option<String> {
    let start = message.find("No such column '")? + "No such column '".len();
    let end = message[start..].find('\'')? + start;
    Some(message[start..end].to_owned())
}

/// The OAuth token endpoint's `{"error", "error_description"}`.
fn oauth_error(code: String, description: Option<String>) -> Extracted {
    let said = |w: &str| description.as_deref().is_some_and(|d| contains_ci(d, w));
    let meaning = match code.as_str() {
        "invalid_grant" if said("expired") => (Outcome::Unauthorized, Cause::ExpiredCredentials),
        "invalid_grant" if said("inactive") => (Outcome::Forbidden, Cause::AccountDisabled),
        // The connected app itself is refused: its consumer key or secret.
        "invalid_client_id" | "invalid_client" | "unauthorized_client" => {
            (Outcome::Unauthorized, Cause::AppCredentials)
        }
        // A failed password grant, or anything else: the credentials are not accepted.
        _ => (Outcome::Unauthorized, Cause::BadCredentials),
    };
    let mut found = Extracted {
        message: description,
        ..Extracted::default()
    };
    found.decide(Some(meaning));
    found.code = Some(code);
    found
}

/// A 300 on an upsert by external id: the id matched several records (the body lists
/// their URLs, which say nothing a marketer can use).
fn multiple_matches() -> Extracted {
    let mut found = Extracted::default();
    found.decide(Some((Outcome::Unexpected, Cause::AmbiguousMatch)));
    found
}

/// A 200 from sObject Collections whose first result is `"success": false`.
fn collection_failure(body: &Body<'_>) -> Option<Extracted> {
    let first = body.json()?.as_array()?.first()?;
    if first.get("success").and_then(Value::as_bool) != Some(false) {
        return None;
    }
    let error = first.get("errors")?.as_array()?.first()?;
    let text = |k: &str| error.get(k).and_then(Value::as_str).map(str::to_owned);
    let (code, message) = (text("statusCode"), text("message"));
    let mut found = Extracted {
        more_fields: other_fields(error),
        field: error
            .get("fields")
            .and_then(Value::as_array)
            .and_then(|f| f.first())
            .and_then(Value::as_str)
            .map(str::to_owned),
        ..Extracted::default()
    };
    found.decide(Some(
        code.as_deref()
            .and_then(|c| by_code(c, message.as_deref()))
            .unwrap_or((Outcome::Unexpected, Cause::FailedDespiteSuccessStatus)),
    ));
    found.message = message;
    found.code = code;
    Some(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(status: u16, body: &str) -> Extracted {
        extract(status, &Body::parse(body.as_bytes()))
    }

    #[test]
    fn rate_limit_403_from_salesforce_is_retryable() {
        let e = read(
            403,
            r#"[{"message":"TotalRequests Limit exceeded.","errorCode":"REQUEST_LIMIT_EXCEEDED"}]"#,
        );
        assert_eq!(e.outcome, Some(Outcome::RateLimited));
        assert_eq!(e.cause, Some(Cause::QuotaExhausted));
        assert!(Outcome::RateLimited.retryable());
    }

    #[test]
    fn a_full_storage_403_is_not_a_rate_limit() {
        let e = read(
            403,
            r#"[{"message":"storage limit exceeded","errorCode":"STORAGE_LIMIT_EXCEEDED","fields":[]}]"#,
        );
        assert_eq!(e.outcome, Some(Outcome::Forbidden));
    }

    #[test]
    fn required_fields_are_named_as_salesforce_spells_them() {
        let e = read(
            400,
            r#"[{"message":"Required fields are missing: [LastName, Company]","errorCode":"REQUIRED_FIELD_MISSING","fields":["LastName","Company"]}]"#,
        );
        assert_eq!(e.field.as_deref(), Some("LastName"));
        assert_eq!(e.cause, Some(Cause::RequiredField));
    }

    #[test]
    fn an_unknown_column_is_named_from_the_message() {
        let e = read(
            400,
            r#"[{"message":"No such column 'Favourite__c' on sobject of type Lead","errorCode":"INVALID_FIELD"}]"#,
        );
        assert_eq!(e.field.as_deref(), Some("Favourite__c"));
    }

    #[test]
    fn an_expired_session_and_an_expired_refresh_token_are_expired_credentials() {
        let e = read(
            401,
            r#"[{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}]"#,
        );
        assert_eq!(e.cause, Some(Cause::ExpiredCredentials));
        let e = read(
            400,
            r#"{"error":"invalid_grant","error_description":"expired access/refresh token"}"#,
        );
        assert_eq!(
            (e.outcome, e.cause),
            (Some(Outcome::Unauthorized), Some(Cause::ExpiredCredentials))
        );
        assert_eq!(e.code.as_deref(), Some("invalid_grant"));
    }

    #[test]
    fn a_refused_connected_app_is_an_auth_failure_about_the_app() {
        for (code, description) in [
            ("invalid_client_id", "client identifier invalid"),
            ("invalid_client", "invalid client credentials"),
        ] {
            let e = read(
                400,
                &format!(r#"{{"error":"{code}","error_description":"{description}"}}"#),
            );
            assert_eq!(
                (e.outcome, e.cause),
                (Some(Outcome::Unauthorized), Some(Cause::AppCredentials)),
                "{code}"
            );
            assert_eq!(e.message.as_deref(), Some(description));
        }
    }

    #[test]
    fn several_external_id_matches_are_not_a_plain_redirect() {
        let e = read(
            300,
            r#"["/services/data/v60.0/sobjects/Lead/00Q5g00000AbCdEAAV","/services/data/v60.0/sobjects/Lead/00Q5g00000AbCdFAAV"]"#,
        );
        assert_eq!(e.outcome, Some(Outcome::Unexpected));
        assert_eq!(e.cause, Some(Cause::AmbiguousMatch));
    }

    #[test]
    fn a_collection_200_with_success_false_reports_the_error() {
        let e = read(
            200,
            r#"[{"success":false,"errors":[{"statusCode":"DUPLICATES_DETECTED","message":"Use one of these records?","fields":[]}]}]"#,
        );
        assert_eq!(e.outcome, Some(Outcome::Duplicate));
        assert_eq!(e.code.as_deref(), Some("DUPLICATES_DETECTED"));
        assert_eq!(
            read(
                201,
                r#"{"id":"00Q5g00000AbCdEAAV","success":true,"errors":[]}"#
            ),
            Extracted::default()
        );
    }

    #[test]
    fn a_locked_row_is_a_transient_conflict() {
        let e = read(
            400,
            r#"[{"message":"unable to obtain exclusive access to this record or 1 records: 00Q5g00000AbCdE","errorCode":"UNABLE_TO_LOCK_ROW","fields":[]}]"#,
        );
        assert_eq!(e.outcome, Some(Outcome::Conflict));
    }
}

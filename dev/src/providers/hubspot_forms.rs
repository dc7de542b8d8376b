//! Fake HubSpot Forms submissions API (v3 integration).
//!
//! | request | checks | answers |
//! |---|---|---|
//! | `POST /submissions/v3/integration/submit/{portal}/{form}` | no authentication; `fields[{name, value}]` with an `email` | 200 `{"inlineMessage": …}` |
//! | `POST /submissions/v3/integration/secure/submit/{portal}/{form}` | Bearer token (401 `INVALID_AUTHENTICATION` otherwise); same body | same |
//!
//! Refusals: 404 "The form '…' does not exist." (a form id of zeros, or an unknown
//! path), 400 "The request is not valid" with `errors[{message: "Error in
//! 'fields.email'. …", errorType}]`: `INVALID_EMAIL` (invalid or non-ASCII),
//! `BLOCKED_EMAIL` (`suppressed…`), `REQUIRED_FIELD` (no email field),
//! `MISSING_PROCESSING_CONSENT` (legal consent sent without `consentToProcess`);
//! 403 `MISSING_SCOPES` (mode, secure endpoint; on the open endpoint the mode answers
//! 400 `FORM_HAS_RECAPTCHA_ENABLED`, a form that refuses API submissions), 429 "You have reached your secondly
//! limit." (no wait header), 502 gateway page (also for `locked…`). A known address is
//! updated, answered like a new one.

use super::hubspot::{bad_gateway, missing_scopes, unauthorized};
use super::{bearer, json_as, segments, Decision, State};
use crate::fake::{Recorded, Reply};
use serde_json::{json, Value};

const JSON: &str = "application/json;charset=utf-8";
const CORRELATION: &str = "f1e2d3c4-b5a6-4978-8695-a4b3c2d1e0f9";

fn not_valid(message: &str, error_type: &str) -> Reply {
    json_as(
        400,
        JSON,
        &json!({"status": "error", "message": "The request is not valid", "correlationId": CORRELATION,
                "errors": [{"message": message, "errorType": error_type}]}),
    )
}

fn no_form(form: &str) -> Reply {
    json_as(
        404,
        JSON,
        &json!({"status": "error", "message": format!("The form '{form}' does not exist."),
                "correlationId": "aa11bb22-cc33-4d44-8e55-ff6677889900"}),
    )
}

/// Answers one request.
pub fn answer(state: &mut State, r: &Recorded) -> Reply {
    let (secure, form) = match (r.method.as_str(), segments(r).as_slice()) {
        ("POST", ["submissions", "v3", "integration", "submit", _portal, form]) => (false, *form),
        ("POST", ["submissions", "v3", "integration", "secure", "submit", _portal, form]) => {
            (true, *form)
        }
        _ => return no_form(""),
    };
    if secure && !state.key_is(bearer(r)) {
        return unauthorized();
    }
    if form.bytes().all(|b| b == b'0' || b == b'-') {
        return no_form(form);
    }
    let Some(body) = r.json() else {
        return not_valid("Invalid JSON", "INPUT_TOO_LARGE");
    };
    let Some(fields) = body["fields"].as_array() else {
        return not_valid("Error in 'fields'. Fields are required", "REQUIRED_FIELD");
    };
    let value_of = |name: &str| {
        fields
            .iter()
            .find(|f| f["name"] == name)
            .and_then(|f| f["value"].as_str())
            .map(str::to_owned)
    };
    let Some(email) = value_of("email") else {
        return not_valid(
            "Error in 'fields.email'. Required field 'email' is missing",
            "REQUIRED_FIELD",
        );
    };
    if let Some(legal) = body.get("legalConsentOptions") {
        if legal["consent"]["consentToProcess"] != Value::Bool(true) {
            return not_valid(
                "Error in 'legalConsentOptions.consent.consentToProcess'. Missing processing consent",
                "MISSING_PROCESSING_CONSENT",
            );
        }
    }
    let delay = match state.decide(&email) {
        Decision::Proceed { delay, .. } => delay,
        Decision::Suppressed => {
            return not_valid(
                "Error in 'fields.email'. Email address is blocked.",
                "BLOCKED_EMAIL",
            )
        }
        Decision::Invalid => {
            return not_valid(
                "Error in 'fields.email'. Invalid email address",
                "INVALID_EMAIL",
            )
        }
        Decision::Forbidden if secure => return missing_scopes("forms"),
        Decision::Forbidden => {
            return not_valid("Form has reCAPTCHA enabled", "FORM_HAS_RECAPTCHA_ENABLED")
        }
        Decision::RateLimited => {
            return json_as(
                429,
                JSON,
                &json!({"status": "error", "message": "You have reached your secondly limit.",
                        "correlationId": "0f1e2d3c-4b5a-4697-8877-665544332211"}),
            )
        }
        Decision::Locked | Decision::ServerError => return bad_gateway(),
    };
    let record: serde_json::Map<String, Value> = fields
        .iter()
        .filter_map(|f| Some((f["name"].as_str()?.to_owned(), f["value"].clone())))
        .collect();
    state.store(&email, Value::Object(record));
    Reply::json(
        200,
        json!({"inlineMessage": "<p>Thanks for submitting the form.</p>"}),
    )
    .after(delay)
}

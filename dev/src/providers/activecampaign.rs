//! Fake ActiveCampaign API v3 (contacts).
//!
//! | request | checks | answers |
//! |---|---|---|
//! | `POST /api/3/contact/sync` | `Api-Token` header; `contact.email` | 201 `{"contact": {…, "id"}}` (new), 200 (updated) |
//! | `POST /api/3/contacts` | same | 201; 422 `duplicate` "Email address already exists in the system." |
//!
//! Refusals: 403 `{"message": "You do not have permission to access this resource"}`
//! (a wrong or missing token, and the forbidden mode: ActiveCampaign answers a bad token
//! so), 404 `{"message": "No Result found for …"}` (unknown path), 422
//! `errors[{title, detail, code, source.pointer}]`: `field_missing` (no email),
//! `email_invalid` (invalid or non-ASCII); 429 "Too Many Requests" with `Retry-After`
//! ([`super::RETRY_AFTER_S`]; the API allows 5 requests a second), 500
//! (also for `locked…`).

use super::{segments, Decision, State, RETRY_AFTER_S};
use crate::fake::{Recorded, Reply};
use serde_json::json;

fn errors(status: u16, title: &str, code: &str) -> Reply {
    Reply::json(
        status,
        json!({"errors": [{"title": title, "detail": "", "code": code, "source": {"pointer": "/data/attributes/email"}}]}),
    )
}

/// Answers one request.
pub fn answer(state: &mut State, r: &Recorded) -> Reply {
    let sync = match (r.method.as_str(), segments(r).as_slice()) {
        ("POST", ["api", "3", "contact", "sync"]) => true,
        ("POST", ["api", "3", "contacts"]) => false,
        _ => {
            return Reply::json(
                404,
                json!({"message": format!("No Result found for route {}", r.path)}),
            )
        }
    };
    let forbidden = || {
        Reply::json(
            403,
            json!({"message": "You do not have permission to access this resource"}),
        )
    };
    if !state.key_is(r.header("api-token")) {
        return forbidden();
    }
    let Some(body) = r.json() else {
        return Reply::json(
            400,
            json!({"message": "The request body is not valid JSON"}),
        );
    };
    let Some(email) = body["contact"]["email"].as_str().map(str::to_owned) else {
        return errors(422, "The contact email was not provided.", "field_missing");
    };
    let (exists, delay) = match state.decide(&email) {
        Decision::Proceed { exists, delay } => (exists, delay),
        Decision::Suppressed => (true, std::time::Duration::ZERO),
        Decision::Forbidden => return forbidden(),
        Decision::RateLimited => {
            return Reply::json(429, json!({"message": "Too Many Requests"}))
                .header("retry-after", RETRY_AFTER_S.to_string())
        }
        Decision::Locked | Decision::ServerError => {
            return Reply::json(500, json!({"message": "An unexpected error occurred"}))
        }
        Decision::Invalid => {
            return Reply::json(
                422,
                json!({"errors": [{"title": "Contact Email Address is not valid.", "detail": "", "code": "email_invalid",
                                   "error": "must_be_valid_email_address", "source": {"pointer": "/data/attributes/email"}}]}),
            )
        }
    };
    if exists && !sync {
        return errors(
            422,
            "Email address already exists in the system.",
            "duplicate",
        );
    }
    let mut contact = body["contact"].clone();
    let id = state.store(&email, contact.clone());
    contact["id"] = json!(id);
    contact["cdate"] = json!("2026-05-04T04:12:31-05:00");
    Reply::json(if exists { 200 } else { 201 }, json!({"contact": contact})).after(delay)
}
